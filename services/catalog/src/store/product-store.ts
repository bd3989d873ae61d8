import type { CreateProductRequest, Product, UpdateProductRequest } from '@storefront/contracts';
import { prepared } from '@storefront/service-kit';
import type pg from 'pg';

type Queryable = pg.Pool | pg.PoolClient;

interface ProductRow {
  id: string;
  name: string;
  description: string;
  price_cents: number;
  stock: number;
  version: number;
  updated_at: Date;
}

const COLUMNS = 'id, name, description, price_cents, stock, version, updated_at';
/** {@link COLUMNS} of the row `p`, for statements that join. */
const P_COLUMNS = COLUMNS.split(', ')
  .map((c) => `p.${c}`)
  .join(', ');
const NOT_NULL_VIOLATION = '23502';
const UNIQUE_VIOLATION = '23505';

const toProduct = (row: ProductRow): Product => ({
  id: row.id,
  name: row.name,
  description: row.description,
  priceCents: row.price_cents,
  stock: row.stock,
  version: row.version,
  updatedAt: row.updated_at.toISOString(),
});

// The statements of a product read from the origin and of every reservation, prepared: parsed and planned once per
// connection (service-kit's `prepared`).
const GET_PRODUCT = prepared('product_get', `SELECT ${COLUMNS} FROM products WHERE id = $1`);

/** {@link ProductStore.reserve}'s one statement. $1 order id, $2 product ids, $3 quantities, $4 fences. */
const RESERVE = prepared(
  'stock_reserve',
  `WITH lines AS (
     SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[]) WITH ORDINALITY AS l(id, quantity, fence, n)
   ),
   taken AS (
     UPDATE products p SET stock = p.stock - l.quantity, version = p.version + 1, fence = l.fence, updated_at = now()
     FROM lines l
     WHERE p.id = l.id AND p.fence <= l.fence AND p.stock >= l.quantity
     RETURNING ${P_COLUMNS}
   ),
   recorded AS (
     -- status is NOT NULL: unless every line was taken it is NULL, and the statement fails whole.
     INSERT INTO reservations (order_id, status, items)
     SELECT $1,
            CASE WHEN count(t.id) = cardinality($2::text[]) THEN 'reserved' END,
            coalesce(jsonb_agg(jsonb_build_object('productId', l.id, 'quantity', l.quantity, 'unitPriceCents', t.price_cents) ORDER BY l.n), '[]')
     FROM lines l LEFT JOIN taken t ON t.id = l.id
   )
   SELECT * FROM taken`,
);

/** Products in Postgres. Every write bumps `version`, which the cache orders writes by. */
export class ProductStore {
  constructor(private readonly db: pg.Pool) {}

  async get(id: string, client: Queryable = this.db): Promise<Product | undefined> {
    const { rows } = await client.query<ProductRow>({ ...GET_PRODUCT, values: [id] });
    return rows[0] && toProduct(rows[0]);
  }

  /** Keyset pagination by id: `cursor` is the last id of the previous page. */
  async list(limit: number, cursor?: string): Promise<Product[]> {
    const { rows } = await this.db.query<ProductRow>(
      `SELECT ${COLUMNS} FROM products WHERE ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $1`,
      [limit, cursor ?? null],
    );
    return rows.map(toProduct);
  }

  /** Insert; `undefined` when the id exists already. */
  async create(input: CreateProductRequest): Promise<Product | undefined> {
    const { rows } = await this.db.query<ProductRow>(
      `INSERT INTO products (id, name, description, price_cents, stock) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [input.id, input.name, input.description, input.priceCents, input.stock],
    );
    return rows[0] && toProduct(rows[0]);
  }

  /** Patch the given fields; returns the new row and the price before. */
  async update(id: string, patch: UpdateProductRequest): Promise<{ product: Product; previousPriceCents: number } | undefined> {
    const { rows } = await this.db.query<ProductRow & { previous_price_cents: number }>(
      `UPDATE products p SET
         name = COALESCE($2, p.name),
         description = COALESCE($3, p.description),
         price_cents = COALESCE($4, p.price_cents),
         version = p.version + 1,
         updated_at = now()
       FROM (SELECT id, price_cents AS previous_price_cents FROM products WHERE id = $1 FOR UPDATE) old
       WHERE p.id = old.id
       RETURNING ${P_COLUMNS}, old.previous_price_cents`,
      [id, patch.name ?? null, patch.description ?? null, patch.priceCents ?? null],
    );
    const row = rows[0];
    return row && { product: toProduct(row), previousPriceCents: row.previous_price_cents };
  }

  /**
   * Change stock by `delta` under a lock whose fencing token is `fence`. The row is
   * written only if no newer lock holder has written it (`fence <= $fence`) and stock
   * stays non-negative. Returns the new row, or `undefined` when refused.
   */
  async changeStockFenced(client: Queryable, id: string, delta: number, fence: number): Promise<Product | undefined> {
    const { rows } = await client.query<ProductRow>(
      `UPDATE products SET stock = stock + $2, version = version + 1, fence = $3, updated_at = now()
       WHERE id = $1 AND fence <= $3 AND stock + $2 >= 0
       RETURNING ${COLUMNS}`,
      [id, delta, fence],
    );
    return rows[0] && toProduct(rows[0]);
  }

  /**
   * Reserve in one statement, so in one round trip while the caller holds the SKUs' locks:
   * take `quantity` of each line under its lease's `fence` (the rule of
   * {@link changeStockFenced}) and record the reservation of `orderId` with each line's
   * price. All or nothing: when a line is unknown, short or holds a newer fence, or
   * `orderId` has a reservation already, the statement fails as a whole and nothing is
   * written — `not_all_taken` or `recorded_before` then, for the caller to find out more.
   */
  async reserve(
    orderId: string,
    lines: readonly { productId: string; quantity: number; fence: number }[],
  ): Promise<{ outcome: 'reserved'; taken: Product[] } | { outcome: 'not_all_taken' } | { outcome: 'recorded_before' }> {
    try {
      const { rows } = await this.db.query<ProductRow>({
        ...RESERVE,
        values: [orderId, lines.map((l) => l.productId), lines.map((l) => l.quantity), lines.map((l) => l.fence)],
      });
      return { outcome: 'reserved', taken: rows.map(toProduct) };
    } catch (error) {
      const { code, table } = error as { code?: string; table?: string };
      if (table === 'reservations' && code === NOT_NULL_VIOLATION) return { outcome: 'not_all_taken' };
      if (table === 'reservations' && code === UNIQUE_VIOLATION) return { outcome: 'recorded_before' };
      throw error;
    }
  }

  /** The fencing token of the last lock holder that wrote this product's stock. */
  async fence(client: Queryable, id: string): Promise<number> {
    const { rows } = await client.query<{ fence: string }>('SELECT fence FROM products WHERE id = $1', [id]);
    return Number(rows[0]?.fence ?? 0);
  }
}
