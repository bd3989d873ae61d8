/** Options for {@link GroupCommit}. */
export interface GroupCommitOptions {
  /** Most items one write carries. Default 100. */
  maxBatch?: number;
  /** Called when the last write is done and nothing waits (a {@link KeyedGroupCommit} drops the key's group). */
  onIdle?: () => void;
}

/**
 * Group commit: callers hand over one item each; items that arrive while a write is in
 * flight (or in the same tick as the first) go out together in the next write. An idle
 * caller waits for nothing extra — its item is written on the next turn of the event loop
 * — and under load one round trip carries many items, which is where a worker doing one
 * INSERT per job spends most of its time (docs/benchmarks.md, the notifier).
 *
 * `write` gets the items in arrival order and answers one result per item, in that order;
 * when it throws, every caller of that batch gets the error (nothing of it is assumed written).
 */
export class GroupCommit<I, O> {
  readonly #maxBatch: number;
  readonly #onIdle: (() => void) | undefined;
  #pending: { item: I; resolve: (result: O) => void; reject: (error: unknown) => void }[] = [];
  #writing = false;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    { maxBatch = 100, onIdle }: GroupCommitOptions = {},
  ) {
    this.#maxBatch = maxBatch;
    this.#onIdle = onIdle;
  }

  /** Write `item` with whatever else is waiting; resolves with its own result. */
  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (!this.#writing) {
        this.#writing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      try {
        const results = await this.write(batch.map((b) => b.item));
        for (const [i, b] of batch.entries()) b.resolve(results[i]!);
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
    this.#writing = false;
    this.#onIdle?.();
  }
}

/**
 * A {@link GroupCommit} per key: items go out together only with items of the same key
 * (the same set of locks, the same table). A key's group exists while it has items in
 * flight or waiting, so many keys used once cost nothing once they are written.
 */
export class KeyedGroupCommit<I, O> {
  readonly #groups = new Map<string, GroupCommit<I, O>>();

  constructor(
    private readonly write: (key: string, items: I[]) => Promise<O[]>,
    private readonly options: Omit<GroupCommitOptions, 'onIdle'> = {},
  ) {}

  /** Write `item` with whatever else waits under `key`; resolves with its own result. */
  add(key: string, item: I): Promise<O> {
    let group = this.#groups.get(key);
    if (!group) {
      group = new GroupCommit((items) => this.write(key, items), { ...this.options, onIdle: () => this.#groups.delete(key) });
      this.#groups.set(key, group);
    }
    return group.add(item);
  }

  /** Keys with items in flight or waiting. */
  get activeKeys(): number {
    return this.#groups.size;
  }
}
