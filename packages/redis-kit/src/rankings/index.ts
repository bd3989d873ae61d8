export { type RankedMember, type RecordOutcome, SlidingRanking, type SlidingRankingOptions } from './sliding-ranking.js';
