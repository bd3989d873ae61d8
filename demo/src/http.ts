/** A JSON HTTP answer. */
export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the demo reads arbitrary JSON bodies
  body: any;
  headers: Headers;
}

/** Call a JSON API; a connection failure rejects (the caller decides what it means). */
export const call = async (
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> => {
  const res = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
};
