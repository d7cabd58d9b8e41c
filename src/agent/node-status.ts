// Kubernetes mode: this node's read-back published as its LBNodeStatus, from which the controller
// sets the Services' Served and Announced conditions (docs/design/019-service-conditions.md).
// Looks every `observeMs` (longer when a look is slow); writes only when the report changed, at most every `minWriteMs`, and
// at least every `refreshSeconds` so that a silent node is seen as stale.
import type { Logger } from 'pino';
import type { ExplainSnapshot } from '../api/explain.ts';
import { findings, NO_MEMORY, nodeReport, reportSignature, type NodeReport, type ReportMemory } from '../api/node-report.ts';

export interface NodeStatusPublisherOptions {
  /** The whole node's snapshot: every frontend read back from the kernel, no counter sampling. */
  readonly snapshot: () => Promise<ExplainSnapshot>;
  readonly write: (report: NodeReport) => Promise<void>;
  readonly log: Logger;
  readonly observeMs?: number;
  readonly minWriteMs?: number;
  readonly refreshSeconds?: number;
  readonly maxProblems?: number;
  readonly now?: () => Date;
}

export const NODE_STATUS_DEFAULTS = { observeMs: 5000, minWriteMs: 5000, refreshSeconds: 60, maxProblems: 500 } as const;

export class NodeStatusPublisher {
  readonly #o: NodeStatusPublisherOptions;
  #timer: NodeJS.Timeout | undefined;
  #memory: ReportMemory = NO_MEMORY;
  #written = '';
  #writtenAt = -Infinity;
  #lastError = '';
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: NodeStatusPublisherOptions) {
    this.#o = options;
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      const t = performance.now();
      // A big table makes a look (the kernel listing, the walk) slow: spaced out so that looking
      // takes at most a tenth of the time (10,000 Services: ~0.4 s of walk).
      this.#running = this.observe().finally(() => this.#schedule(Math.max(this.#o.observeMs ?? NODE_STATUS_DEFAULTS.observeMs, 10 * (performance.now() - t))));
    }, ms);
    this.#timer.unref();
  }

  /** One observation: looks, and writes when the report is news (or due for a refresh). Never throws. */
  async observe(): Promise<void> {
    const o = this.#o;
    const observeMs = o.observeMs ?? NODE_STATUS_DEFAULTS.observeMs;
    const refreshSeconds = o.refreshSeconds ?? NODE_STATUS_DEFAULTS.refreshSeconds;
    try {
      const snap = await o.snapshot();
      const now = o.now?.() ?? new Date();
      const { report, memory } = nodeReport(findings(snap), this.#memory, snap.bgp !== undefined || snap.l2 !== undefined, now, {
        refreshSeconds, graceMs: observeMs, maxProblems: o.maxProblems ?? NODE_STATUS_DEFAULTS.maxProblems,
      });
      this.#memory = memory;
      const signature = reportSignature(report);
      const since = now.getTime() - this.#writtenAt;
      const due = since >= refreshSeconds * 1000;
      if (!due && (signature === this.#written || since < (o.minWriteMs ?? NODE_STATUS_DEFAULTS.minWriteMs))) return;
      await o.write(report);
      this.#written = signature;
      this.#writtenAt = now.getTime();
      if (this.#lastError !== '') o.log.info('LBNodeStatus written again');
      this.#lastError = '';
    } catch (error) {
      const text = (error as Error).message;
      // Once per distinct failure: the next observation retries.
      if (text !== this.#lastError) o.log.warn({ err: error }, 'cannot write this node\'s LBNodeStatus; the Services\' Served and Announced conditions go Unknown until it is');
      this.#lastError = text;
    }
  }
}
