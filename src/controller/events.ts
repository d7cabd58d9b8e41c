import type { Logger } from 'pino';
import type { EventRecord, KubeClients } from '../kube/index.ts';

export interface EventSinkOptions {
  readonly clients: Pick<KubeClients, 'createEvent'>;
  readonly log: Logger;
  /** Event writes in flight at once. */
  readonly concurrency?: number;
  /** Events waiting beyond this are dropped (and counted in the log): they are best effort. */
  readonly maxQueued?: number;
  /**
   * True while status writes are waiting: Events then go one at a time, so that on a shared API
   * server they do not take the place of the statuses users wait for.
   */
  readonly busy?: () => boolean;
}

/**
 * Writes Events behind the status writes, as client-go's event broadcaster does: an Event
 * explains a status, it must never delay one. After a rebuild the controller writes 10,000
 * statuses and 10,000 `VIPAllocated` Events; inline, every Event doubled the time until
 * `kubectl get svc` showed the addresses. Queued Events are written in order, a few at a time.
 */
export class EventSink {
  readonly #o: EventSinkOptions;
  readonly #queue: EventRecord[] = [];
  #head = 0;
  #inFlight = 0;
  #dropped = 0;
  #stopped = false;
  #idle: (() => void)[] = [];

  constructor(options: EventSinkOptions) {
    this.#o = options;
  }

  record(event: EventRecord): void {
    if (this.#stopped) return;
    if (this.#queue.length - this.#head >= (this.#o.maxQueued ?? 50_000)) {
      this.#dropped++;
      if (this.#dropped === 1 || this.#dropped % 1000 === 0) this.#o.log.warn({ dropped: this.#dropped }, 'too many Events waiting; dropping some');
      return;
    }
    this.#queue.push(event);
    this.#pump();
  }

  /** Events waiting or being written. */
  get pending(): number {
    return this.#queue.length - this.#head + this.#inFlight;
  }

  /** Resolves when every recorded Event has been written (or failed). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops taking Events; waits up to `graceMs` for those in flight. */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#head = 0;
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }

  #pump(): void {
    const limit = this.#o.busy?.() === true ? 1 : (this.#o.concurrency ?? 8);
    while (this.#inFlight < limit && this.#head < this.#queue.length) {
      const event = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      this.#inFlight++;
      void this.#o.clients
        .createEvent(event)
        .catch((error: unknown) => this.#o.log.warn({ object: `${event.involved.namespace}/${event.involved.name}`, err: error }, `could not record event ${event.reason}`))
        .finally(() => {
          this.#inFlight--;
          this.#pump();
          if (this.pending === 0) for (const resolve of this.#idle.splice(0)) resolve();
        });
    }
  }
}
