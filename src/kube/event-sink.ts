import type { Logger } from 'pino';
import { refusalOf, type EventRecord, type KubeClients } from './index.ts';

export interface EventSinkOptions {
  readonly clients: Pick<KubeClients, 'createEvent'>;
  readonly log: Logger;
  /** Event writes in flight at once. */
  readonly concurrency?: number;
  /** Events waiting beyond this are dropped (and counted in the log): they are best effort. */
  readonly maxQueued?: number;
  /**
   * True while status writes are waiting: Events then wait (up to `maxDelayMs`, after which they
   * go one at a time), so that they take neither the controller's CPU nor the API server's from
   * the statuses users wait for.
   */
  readonly busy?: () => boolean;
  /** How long an Event may wait behind status writes before it goes anyway. */
  readonly maxDelayMs?: number;
}

/**
 * Writes Events behind the status writes, as client-go's event broadcaster does: an Event
 * explains a status, it must never delay one. After a rebuild the controller writes 10,000
 * statuses and 10,000 `VIPAllocated` Events; inline, every Event doubled the time until
 * `kubectl get svc` showed the addresses. Queued Events are written in order, a few at a time.
 */
export class EventSink {
  readonly #o: EventSinkOptions;
  readonly #queue: { readonly event: EventRecord; readonly at: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
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
    this.#queue.push({ event, at: Date.now() });
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
    clearTimeout(this.#timer);
    this.#queue.length = 0;
    this.#head = 0;
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }

  #pump(): void {
    let limit = this.#o.concurrency ?? 8;
    if (this.#o.busy?.() === true && this.#head < this.#queue.length) {
      // Behind the statuses: look again shortly, unless the oldest Event has waited long enough.
      const waited = Date.now() - this.#queue[this.#head]!.at;
      if (waited < (this.#o.maxDelayMs ?? 2000)) {
        if (this.#timer === undefined && !this.#stopped) {
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.#pump();
          }, 50);
        }
        return;
      }
      limit = 1;
    }
    while (this.#inFlight < limit && this.#head < this.#queue.length) {
      const { event } = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      this.#inFlight++;
      void this.#o.clients
        .createEvent(event)
        .catch((error: unknown) => {
          const r = refusalOf(error);
          const said = r === undefined ? '' : `: the API server answered ${r.status}: ${r.message}`;
          this.#o.log.warn({ object: `${event.involved.namespace}/${event.involved.name}`, err: error, ...(r === undefined ? {} : { status: r.status }) }, `could not record event ${event.reason}${said}`);
        })
        .finally(() => {
          this.#inFlight--;
          this.#pump();
          if (this.pending === 0) for (const resolve of this.#idle.splice(0)) resolve();
        });
    }
  }
}
