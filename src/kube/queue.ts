/** What one reconcile of a key concluded. */
export type ReconcileResult = 'done' | 'retry' | { readonly requeueAfterMs: number };

export interface WorkQueueOptions {
  readonly reconcile: (key: string) => Promise<ReconcileResult>;
  /** First retry delay after 'retry' or a throw; doubles per consecutive failure of the key. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Keys reconciled at once (never the same key twice at once). */
  readonly concurrency?: number;
  /** A reconcile that threw: the key is retried with backoff. */
  readonly onError?: (key: string, error: unknown) => void;
  /** Injectable timers (node:test's mock.timers replaces the globals, so the default suits tests). */
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
  readonly now?: () => number;
}

/**
 * A keyed, de-duplicating work queue with per-key exponential backoff (client-go's workqueue).
 * Watch handlers only `add(key)`; a key queued twice is reconciled once; a key added while its
 * reconcile runs is reconciled again afterwards (so no change is lost) but never concurrently.
 */
export class WorkQueue {
  readonly #o: Required<Omit<WorkQueueOptions, 'onError'>> & Pick<WorkQueueOptions, 'onError'>;
  readonly #queued = new Set<string>(); // insertion order = processing order
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>(); // added again while processing
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, { handle: unknown; at: number }>();
  readonly #idle: (() => void)[] = [];
  #stopped = false;

  constructor(options: WorkQueueOptions) {
    this.#o = {
      baseDelayMs: 5,
      maxDelayMs: 60_000,
      concurrency: 1,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
      now: () => Date.now(),
      ...options,
    };
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    this.#queued.add(key);
    this.#pump();
  }

  /** Adds the key after `ms`; an earlier pending timer for the key wins over a later one. */
  addAfter(key: string, ms: number): void {
    if (this.#stopped) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#o.now() + ms;
    const pending = this.#timers.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      this.#o.clearTimer(pending.handle);
    }
    const handle = this.#o.setTimer(() => {
      this.#timers.delete(key);
      this.add(key);
    }, ms);
    this.#timers.set(key, { handle, at });
  }

  /** Consecutive failures of the key so far (0 after a 'done'). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  get length(): number {
    return this.#queued.size;
  }

  /** Resolves when nothing is queued or running (timers may still be pending). */
  async idle(): Promise<void> {
    if (this.#queued.size === 0 && this.#processing.size === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) this.#o.clearTimer(t.handle);
    this.#timers.clear();
    this.#queued.clear();
  }

  #pump(): void {
    while (!this.#stopped && this.#processing.size < this.#o.concurrency) {
      // add() never queues a key that is processing, so the first queued key is free to run.
      const key = this.#queued.values().next().value;
      if (key === undefined) break;
      this.#queued.delete(key);
      this.#processing.add(key);
      void this.#run(key);
    }
    if (this.#queued.size === 0 && this.#processing.size === 0) for (const r of this.#idle.splice(0)) r();
  }

  async #run(key: string): Promise<void> {
    let result: ReconcileResult;
    try {
      result = await this.#o.reconcile(key);
    } catch (error) {
      this.#o.onError?.(key, error);
      result = 'retry';
    }
    this.#processing.delete(key);
    if (result === 'done') {
      this.#failures.delete(key);
    } else if (result === 'retry') {
      const n = this.failures(key);
      this.#failures.set(key, n + 1);
      this.addAfter(key, Math.min(this.#o.baseDelayMs * 2 ** n, this.#o.maxDelayMs));
    } else {
      this.#failures.delete(key);
      this.addAfter(key, result.requeueAfterMs);
    }
    if (this.#dirty.delete(key)) this.#queued.add(key);
    this.#pump();
  }
}
