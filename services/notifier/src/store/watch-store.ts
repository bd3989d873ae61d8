import type { Watch } from '@storefront/contracts';
import type pg from 'pg';

/** Product watches in Postgres: which customers want to hear about which product. */
export class WatchStore {
  constructor(private readonly db: pg.Pool) {}

  /** Add a watch; watching twice is the same as once. */
  async add(watch: Watch): Promise<void> {
    await this.db.query('INSERT INTO watches (customer_id, product_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
      watch.customerId,
      watch.productId,
    ]);
  }

  /** The customers watching `productId`. */
  async watchersOf(productId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ customer_id: string }>('SELECT customer_id FROM watches WHERE product_id = $1', [
      productId,
    ]);
    return rows.map((r) => r.customer_id);
  }
}
