import type { ServerResponse } from 'node:http';

const CALLBACKS = Symbol('storefront.responseOver');
type Tracked = ServerResponse & { [CALLBACKS]?: (() => void)[] };

/**
 * Run `callback` once the response is over: Node emits `close` on every response, after
 * `finish` when it was sent and alone when the client went away (`res.writableFinished`
 * tells which). However many steps ask (the request log, the HTTP histogram), the response
 * gets one listener: each `once` costs a wrapper and a listener-array update per request,
 * which the profile of the HTTP stack counted among its per-request garbage.
 */
export const afterResponse = (res: ServerResponse, callback: () => void): void => {
  const tracked = res as Tracked;
  const callbacks = tracked[CALLBACKS];
  if (callbacks) {
    callbacks.push(callback);
    return;
  }
  const all = [callback];
  tracked[CALLBACKS] = all;
  res.once('close', () => {
    for (const run of all) run();
  });
};
