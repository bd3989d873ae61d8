import type { Migration } from '@storefront/service-kit';

/** Catalog's schema. `fence` is the last lock fencing token that wrote the row's stock. */
export const migrations: Migration[] = [
  {
    id: '001_products',
    sql: `
      CREATE TABLE products (
        id text PRIMARY KEY,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        price_cents integer NOT NULL CHECK (price_cents >= 0),
        stock integer NOT NULL CHECK (stock >= 0),
        version integer NOT NULL DEFAULT 1,
        fence bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
  },
  {
    id: '002_reservations',
    sql: `
      CREATE TABLE reservations (
        order_id uuid PRIMARY KEY,
        status text NOT NULL CHECK (status IN ('reserved', 'rejected', 'released')),
        items jsonb NOT NULL,
        short_product_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
  },
];
