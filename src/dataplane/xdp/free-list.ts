// Free slots / backend indices: a queue, so an index freed now is reused only after every older
// free one (a stale flow entry then rarely meets a new backend at its old index).
import { XdpError, XdpErrorCode } from './errors.ts';

export class FreeList {
  #items: number[] = [];
  #head = 0;

  constructor(
    private readonly what: string,
    private readonly capacity: number,
  ) {}

  /** Every number below the capacity that `used` does not hold, lowest first. */
  reset(used: ReadonlySet<number>): void {
    this.#items = [];
    for (let i = 0; i < this.capacity; i++) if (!used.has(i)) this.#items.push(i);
    this.#head = 0;
  }

  take(): number {
    // Read from the front by a head index: Array#shift on 131,072 entries is a memmove per call.
    const next = this.#items[this.#head];
    if (next === undefined) throw new XdpError(XdpErrorCode.capacityExceeded, `no free ${this.what}: the maps hold ${this.capacity}`);
    this.#head++;
    if (this.#head > 65_536 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return next;
  }

  release(n: number): void {
    this.#items.push(n);
  }
}
