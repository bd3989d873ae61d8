/**
 * Steady, bounded order load for the chaos suite: a new `POST /orders` every
 * `1000 / ratePerSecond` ms on a live order instance, each retried with the same
 * Idempotency-Key (as a real client would) while the answer says "try again". Every
 * attempt is recorded, so the suite can say how fast and how honest each answer was,
 * and which orders were acknowledged. Loopback only; bounded in count and time.
 */

/** One HTTP attempt of one order. */
export interface Attempt {
  /** Epoch ms when it was sent. */
  at: number;
  /** How long the answer took (or until the attempt gave up). */
  ms: number;
  /** HTTP status, or `timeout` (no answer within the attempt timeout) / `network` (refused, reset). */
  status: number | 'timeout' | 'network';
  /** The problem `code`, for 4xx/5xx. */
  code?: string;
  /** The `Retry-After` header, if any. */
  retryAfter?: string;
}

/** One order a client tried to place, with every attempt it made. */
export interface OrderRequest {
  key: string;
  customerId: string;
  items: { productId: string; quantity: number }[];
  attempts: Attempt[];
  /** `placed` (201 seen: acknowledged), `rejected` (a final 4xx), `gave_up` (out of attempts), `pending`. */
  outcome: 'placed' | 'rejected' | 'gave_up' | 'pending';
  /** The order id of the 201 (every 201 for one key must carry the same). */
  orderIds: string[];
  /** Whether the client paid the order after it was placed (and the pay was answered 200). */
  paid: boolean;
}

/** Options for {@link startLoad}. */
export interface LoadOptions {
  /** Base URLs of the order instances to use; called per attempt (instances come and go). */
  targets: () => string[];
  /** A customer's bearer token (orders act for the token's subject). */
  tokenFor: (customerId: string) => Promise<string>;
  /** Products to order from (one line of 1–2 units per order, sometimes two lines). */
  products: string[];
  /** New orders per second. */
  ratePerSecond: number;
  /** Hard cap on orders started (the loop stops by itself). */
  maxOrders: number;
  /** Hard cap on the run (the loop stops by itself). */
  maxMs: number;
  /** One attempt may wait this long for an answer. Default 5 000 ms ("hung" past it). */
  attemptTimeoutMs?: number;
  /** Attempts per order. Default 10. */
  maxAttempts?: number;
  /** Pay every n-th placed order (0: never). Default 5. */
  payEvery?: number;
}

const RETRYABLE_CODES = new Set(['request_in_flight', 'rate_limited']);

/** Start the load; `stop()` stops starting new orders and waits for those in flight to finish. */
export const startLoad = (options: LoadOptions) => {
  const { attemptTimeoutMs = 5_000, maxAttempts = 10, payEvery = 5 } = options;
  const requests: OrderRequest[] = [];
  const inFlight = new Set<Promise<void>>();
  const startedAt = Date.now();
  let stopped = false;
  let placedCount = 0;
  let n = 0;

  const attempt = async (url: string, init: RequestInit): Promise<{ attempt: Attempt; body?: unknown }> => {
    const at = Date.now();
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(attemptTimeoutMs) });
      const text = await res.text();
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      const retryAfter = res.headers.get('retry-after') ?? undefined;
      const code = res.status >= 400 && typeof body?.code === 'string' ? body.code : undefined;
      return {
        attempt: {
          at,
          ms: Date.now() - at,
          status: res.status,
          ...(code ? { code } : {}),
          ...(retryAfter ? { retryAfter } : {}),
        },
        body,
      };
    } catch (error) {
      const name = (error as Error).name;
      return { attempt: { at, ms: Date.now() - at, status: name === 'TimeoutError' ? 'timeout' : 'network' } };
    }
  };

  const place = async (request: OrderRequest) => {
    const deadline = Date.now() + 30_000;
    const authorization = `Bearer ${await options.tokenFor(request.customerId)}`;
    for (let i = 0; i < maxAttempts && Date.now() < deadline; i++) {
      const targets = options.targets();
      const target = targets[(n + i) % Math.max(1, targets.length)];
      if (!target) break;
      const { attempt: a, body } = await attempt(`${target}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': request.key, authorization },
        body: JSON.stringify({ items: request.items }),
      });
      request.attempts.push(a);
      if (a.status === 201) {
        request.outcome = 'placed';
        request.orderIds.push(String((body as { id?: unknown }).id));
        placedCount++;
        if (payEvery > 0 && placedCount % payEvery === 0) {
          const paid = await attempt(`${target}/orders/${request.orderIds[0]}/pay`, {
            method: 'POST',
            headers: { authorization },
          });
          request.paid = paid.attempt.status === 200;
        }
        return;
      }
      const retry = a.status === 'timeout' || a.status === 'network' || a.status >= 500 || RETRYABLE_CODES.has(a.code ?? '');
      if (!retry) {
        request.outcome = 'rejected';
        return;
      }
      // Honour Retry-After (capped so the run stays short) with jitter, as a well-behaved client
      // does: retries of everyone who waited out an outage do not all land in one instant.
      const wait = Math.min(1000, 1000 * Number(a.retryAfter ?? 0.2)) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, Math.max(100, wait)));
    }
    request.outcome = 'gave_up';
  };

  const timer = setInterval(() => {
    if (stopped || requests.length >= options.maxOrders || Date.now() - startedAt > options.maxMs) return;
    if (inFlight.size >= 200) return; // a bound on what a hung shop can pile up
    n++;
    const productId = options.products[n % options.products.length]!;
    const second = options.products[(n * 7 + 3) % options.products.length]!;
    const items =
      n % 4 === 0 && second !== productId
        ? [
            { productId, quantity: 1 },
            { productId: second, quantity: 2 },
          ]
        : [{ productId, quantity: 1 + (n % 2) }];
    const request: OrderRequest = {
      key: `chaos-${startedAt}-${n}`,
      customerId: `chaos-${n % 400}`,
      items,
      attempts: [],
      outcome: 'pending',
      orderIds: [],
      paid: false,
    };
    requests.push(request);
    const p = place(request).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 1000 / options.ratePerSecond);

  return {
    requests,
    /** Stop starting orders; resolve once every order in flight has its outcome. */
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
};
