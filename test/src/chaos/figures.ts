import type { Consistency } from './consistency.js';
import type { Attempt, OrderRequest } from './load.js';

/** What one fault did to the shop, as the chaos table prints it. */
export interface FaultFigures {
  fault: string;
  /** When the fault started and ended (epoch ms). */
  from: number;
  to: number;
  /** Attempts sent while the fault lasted. */
  attempts: number;
  /** Of those, the share answered with a success, a final 4xx, or 503 + Retry-After within 1 s of the fault. */
  fastHonest: number;
  /** Answers that were 500 (or any 5xx other than 503), and attempts that hung past 1 s. */
  errors5xx: number;
  /** Those answers as `<status> <problem code>`, for the failure message. */
  errors5xxSeen: string[];
  slow: number;
  /** First to last failed answer of an attempt sent from the fault on (ms). */
  errorWindowMs: number | null;
  /** From the fault to the first 201 of an attempt sent after it (ms). */
  firstSuccessMs: number | null;
  /** From the end of the fault until the shop is back: every instance ready, outbox drained (ms). */
  backMs: number | null;
  /** From stopping the load until the data is consistent (sweepers, expiry, notifications) (ms). */
  settleMs: number | null;
  consistency?: Consistency;
  /** The last violations seen while settling, and when (ms after the load stopped): what the settle time waited for. */
  waitedFor?: { afterMs: number; counts: Record<string, number>; examples: string[] };
  /** More figures a fault has (e.g. every product orderable again). */
  notes?: string;
}

const attemptsOf = (requests: readonly OrderRequest[]): Attempt[] => requests.flatMap((r) => r.attempts);

const isFailure = (a: Attempt) => typeof a.status !== 'number' || a.status >= 500 || a.code === 'request_in_flight';

/**
 * An answer a client can act on: a success, a final 4xx, or 503 with Retry-After — within
 * 1 s of the fault. An attempt answered while the fault lasted must take under 1 s; one
 * sent shortly before the fault ended and answered after it must have waited under 1 s of
 * the fault (the rest is the recovery burst, counted in the `≥ 1 s` column).
 */
const isFastHonest = (a: Attempt, to: number) =>
  (a.at + a.ms <= to ? a.ms : to - a.at) < 1000 &&
  typeof a.status === 'number' &&
  (a.status < 500 ? a.code !== 'internal' : a.status === 503 && a.retryAfter !== undefined);

/** Figures of the attempts around a fault that started at `from` and ended at `to` (epoch ms). */
export const faultFigures = (
  fault: string,
  requests: readonly OrderRequest[],
  from: number,
  to: number,
): Omit<FaultFigures, 'backMs' | 'settleMs'> => {
  const all = attemptsOf(requests);
  const during = all.filter((a) => a.at >= from && a.at <= to);
  const after = all.filter((a) => a.at >= from).sort((a, b) => a.at + a.ms - (b.at + b.ms));
  const failures = after.filter(isFailure);
  const firstSuccess = after.find((a) => a.status === 201);
  const wrong5xx = during.filter((a) => typeof a.status === 'number' && a.status >= 500 && a.status !== 503);
  return {
    fault,
    from,
    to,
    attempts: during.length,
    fastHonest: during.length ? during.filter((a) => isFastHonest(a, to)).length / during.length : 1,
    errors5xx: wrong5xx.length,
    errors5xxSeen: wrong5xx.map((a) => `${a.status} ${a.code ?? '(no code)'}`),
    slow: during.filter((a) => a.ms >= 1000).length,
    errorWindowMs: failures.length ? failures.at(-1)!.at + failures.at(-1)!.ms - (failures[0]!.at + failures[0]!.ms) : null,
    firstSuccessMs: firstSuccess ? firstSuccess.at + firstSuccess.ms - from : null,
  };
};

const fmt = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** The chaos table (markdown), one row per fault. */
export const chaosTable = (rows: readonly FaultFigures[]): string => {
  const head =
    '| fault | attempts | fast+honest | 5xx≠503 | ≥1 s | error window | first 201 | back | settled | acked | lost | doubled | leaked | negative | orphans | notif. errors | unexpired | notes |';
  const lines = rows.map((r) => {
    const c = r.consistency;
    return `| ${r.fault} | ${r.attempts} | ${(100 * r.fastHonest).toFixed(1)}% | ${r.errors5xx} | ${r.slow} | ${fmt(r.errorWindowMs)} | ${fmt(r.firstSuccessMs)} | ${fmt(r.backMs)} | ${fmt(r.settleMs)} | ${c?.acknowledged ?? '—'} | ${c?.lost ?? '—'} | ${c?.doubled ?? '—'} | ${c?.leakedUnits ?? '—'} | ${c?.negativeStock ?? '—'} | ${c ? c.orphanReservations + c.openIntents : '—'} | ${c?.notificationErrors ?? '—'} | ${c?.unexpired ?? '—'} | ${r.notes ?? ''} |`;
  });
  return [head, `|${'---|'.repeat(19)}`, ...lines].join('\n');
};
