/** The lock could not be acquired before the deadline. */
export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
  constructor(
    readonly key: string,
    waitedMs: number,
  ) {
    super(`Timed out after ${waitedMs} ms waiting for lock ${key}`);
  }
}

/** The lease expired or was taken over before release; fenced writes made after this are rejected. */
export class LockLostError extends Error {
  override name = 'LockLostError';
  constructor(readonly key: string) {
    super(`Lost lock ${key} before release`);
  }
}
