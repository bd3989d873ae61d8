import http from 'node:http';
import { type OrderItem, type OrderItemInput, ReservationResponse } from '@storefront/contracts';
import type { Discovery } from '@storefront/redis-kit';
import { createBreaker, DependencyUnavailableError, type ServiceTokenSigner, startClientSpan } from '@storefront/service-kit';
import type { Registry } from 'prom-client';

/** Catalog's answer to a reservation, as the order domain uses it. */
export type Reservation =
  | { status: 'reserved'; items: OrderItem[] }
  | { status: 'insufficient_stock'; productId: string }
  | { status: 'unknown_product'; productId: string }
  /** A SKU's lock was held past catalog's lock wait: nothing was reserved; try again shortly. */
  | { status: 'busy' };

/** Options for {@link CatalogClient}. */
export interface CatalogClientOptions {
  /**
   * How long a reservation or a release may take (`RESERVATION_TIMEOUT`): longer than
   * catalog's stock-lock wait, so catalog answers definitely rather than order giving up
   * on a request that may still succeed (service-defaults' timeouts check it at start).
   */
  timeoutMs: number;
  /** The breaker stays open this long. Default 5 000 ms. */
  resetTimeoutMs?: number;
  /** Where `circuit_breaker_state{breaker="catalog"}` goes. */
  registry: Registry;
  /** Signs order's service token; catalog's reservation routes refuse calls without one. */
  credentials: ServiceTokenSigner;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const parseBody = (text: string): Record<string, unknown> => {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return { detail: text.slice(0, 200) };
  }
};

/**
 * One HTTP/1.1 request on Node's keep-alive agent (it closes an idle socket before the
 * server's announced `Keep-Alive: timeout`), the whole exchange bounded by `timeoutMs`
 * (a `TimeoutError` when it runs out). `fetch` did this before: the profile of the order
 * flow put its WHATWG streams and request objects at ≈ 12 % of order's CPU, about 3x what
 * `http.request` costs per call (docs/benchmarks.md). Traced by service-kit's client span,
 * which also puts `traceparent` in the request's headers.
 */
const post = (url: URL, method: string, authorization: string, body: string | undefined, timeoutMs: number) =>
  new Promise<Answer>((resolve, reject) => {
    const signal = AbortSignal.timeout(timeoutMs);
    const headers: http.OutgoingHttpHeaders = { authorization };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const span = startClientSpan(method, url, headers);
    const fail = (error: Error) => {
      const reason = signal.aborted ? signal.reason : error;
      span.failed(reason);
      reject(reason);
    };
    const request = http.request(url, { method, headers, signal }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        span.answered(status);
        resolve({ status, body: parseBody(text) });
      });
      response.on('error', fail);
    });
    request.on('error', fail);
    request.end(body);
  });

/** Catalog's 503 for a SKU whose lock it could not get in time (`dependency: 'stock lock'`). */
const isBusy = ({ status, body }: Answer) => status === 503 && body.dependency === 'stock lock';

/**
 * Order's one way to catalog: an instance from the registry (never a fixed URL), another
 * instance when the first cannot be reached, all behind an opossum breaker named `catalog`.
 * Placing an order crosses once: `reserve` (which also answers unknown products).
 */
export class CatalogClient {
  readonly #call: (method: string, path: string, body?: unknown) => Promise<Answer>;

  constructor(
    private readonly discovery: Discovery,
    private readonly options: CatalogClientOptions,
  ) {
    this.#call = createBreaker((method: string, path: string, body?: unknown) => this.#request(method, path, body), {
      name: 'catalog',
      registry: options.registry,
      timeoutMs: options.timeoutMs + 1_000,
      resetTimeoutMs: options.resetTimeoutMs ?? 5_000,
    }).call;
  }

  /** Reserve every item or none. Throws `DependencyUnavailableError` when catalog cannot answer. */
  async reserve(orderId: string, items: OrderItemInput[]): Promise<Reservation> {
    const { status, body } = await this.#send('POST', '/reservations', { orderId, items });
    if (status === 201) return { status: 'reserved', items: ReservationResponse.parse(body).items };
    if (status === 409 && body.code === 'insufficient_stock') {
      return { status: 'insufficient_stock', productId: String(body.productId) };
    }
    if (status === 404 && typeof body.productId === 'string') return { status: 'unknown_product', productId: body.productId };
    if (isBusy({ status, body })) return { status: 'busy' };
    // 400 (we sent something catalog's contract refuses) or 409 (this orderId was released):
    // a bug or a race, never the customer's input.
    throw new DependencyUnavailableError('catalog', { cause: new Error(`catalog answered ${status}: ${String(body.detail)}`) });
  }

  /** Release an order's reservation (idempotent on catalog's side). */
  async release(orderId: string): Promise<void> {
    const { status, body } = await this.#send('DELETE', `/reservations/${orderId}`);
    if (status !== 204) throw new Error(`catalog answered ${status} to a release: ${String(body.detail)}`);
  }

  /**
   * Through the breaker — unless the registry lists no catalog at all. That is not a call
   * that failed, and counting it would keep the breaker open after the registry refills
   * (as after Redis returns from an outage, when every record expired at once).
   */
  #send(method: string, path: string, body?: unknown): Promise<Answer> {
    if (this.discovery.instances().length === 0) {
      throw new DependencyUnavailableError('catalog', { cause: new Error('no live catalog instance in the registry') });
    }
    return this.#call(method, path, body);
  }

  /** One request; 5xx, unreachable and timed-out answers throw (and count against the breaker). */
  async #request(method: string, path: string, body: unknown): Promise<Answer> {
    // One retry on another instance when the first cannot be reached (crashed, not yet expired from the registry).
    const attempts = Math.min(2, Math.max(1, this.discovery.instances().length));
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      let instance: ReturnType<Discovery['pick']>;
      try {
        instance = this.discovery.pick();
      } catch (error) {
        throw new DependencyUnavailableError('catalog', { cause: error });
      }
      let answer: Answer;
      try {
        answer = await post(
          new URL(`http://${instance.host}:${instance.port}${path}`),
          method,
          `Bearer ${await this.options.credentials.token('catalog')}`,
          body === undefined ? undefined : JSON.stringify(body),
          this.options.timeoutMs,
        );
      } catch (error) {
        // A timeout is not a refusal: the request may still complete there, so do not send it
        // to another instance as well; the caller decides (order releases the orderId).
        if ((error as Error).name === 'TimeoutError') throw new DependencyUnavailableError('catalog', { cause: error });
        this.discovery.reportFailure(instance.instanceId);
        lastError = error;
        continue;
      }
      // A busy SKU is a definite answer from a healthy instance: not a failure of it, not
      // one for the breaker to count, nothing to try elsewhere.
      if (answer.status < 500 || isBusy(answer)) return answer;
      this.discovery.reportFailure(instance.instanceId);
      lastError = new Error(`catalog ${instance.instanceId} answered ${answer.status}: ${String(answer.body.detail)}`);
    }
    throw new DependencyUnavailableError('catalog', { cause: lastError });
  }
}
