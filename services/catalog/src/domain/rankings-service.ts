import type { Rankings } from '@storefront/contracts';
import type { RankedMember, SlidingRanking } from '@storefront/redis-kit';
import { NotFoundError } from '@storefront/service-kit';
import type { CatalogService } from './catalog-service.js';

const OUTCOMES = ['placed', 'paid', 'cancelled', 'expired'] as const;

/**
 * The shop's live rankings, read from the sliding rankings order and the notifier keep in
 * Redis (catalog only reads them), with each product's name from the cache.
 */
export class RankingsService {
  constructor(
    private readonly rankings: { bestSelling: SlidingRanking; mostWatched: SlidingRanking; orders: SlidingRanking },
    private readonly catalog: CatalogService,
  ) {}

  async read(windowMinutes: number, limit: number): Promise<Rankings> {
    const [bestSelling, mostWatched, series] = await Promise.all([
      this.rankings.bestSelling.top(limit, windowMinutes),
      this.rankings.mostWatched.top(limit, windowMinutes),
      this.rankings.orders.series(windowMinutes),
    ]);
    const names = await this.#names([...bestSelling, ...mostWatched].map((r) => r.member));
    const named = (list: RankedMember[]) =>
      list.map(({ member, score }) => ({ productId: member, name: names.get(member) ?? null, score }));
    return {
      windowMinutes,
      bestSelling: named(bestSelling),
      mostWatched: named(mostWatched),
      ordersPerMinute: series.map(({ at, scores }) => ({
        minute: new Date(at).toISOString(),
        ...Object.fromEntries(OUTCOMES.map((o) => [o, scores[o] ?? 0])),
      })) as Rankings['ordersPerMinute'],
    };
  }

  /** Names of the ranked products; a product deleted since it was ranked keeps its id and no name. */
  async #names(ids: string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    await Promise.all(
      [...new Set(ids)].map(async (id) => {
        try {
          names.set(id, (await this.catalog.getProduct(id)).product.name);
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error;
        }
      }),
    );
    return names;
  }
}
