// Keeps the Services' Served and Announced conditions (and the VIPPools' Announced) in line with
// the LB nodes' LBNodeStatus reports (docs/design/019). Level-triggered: a change of a report,
// a Service or a pool only marks the view dirty; at most once per tick everything is aggregated
// again and the Services whose conditions differ are written, through a token bucket, behind
// the VIP assignments (which are not throttled).
import type { Logger } from 'pino';
import { statusOf, watchKind, type KubeClients, type KubeCondition, type KubeLbNodeStatus, type KubeService, type KubeVipPool, type WatchedKind } from '../kube/index.ts';
import { keyOf, type ClassPolicy } from '../kube-model/index.ts';
import { condition, replacedInPlace, sameConditions } from './assign.ts';
import { ConditionType } from './errors.ts';
import { conditionsPatch, freshViews, poolAnnounced, serviceStates, vipAnnouncements, type NodeView } from './service-conditions.ts';

export interface ConditionWriterOptions {
  /** Service status writes per second, sustained (default 50). */
  readonly writesPerSecond?: number;
  /** Writes allowed at once after a quiet time (default 100). */
  readonly burst?: number;
  /** Writes in flight at once (default 4). */
  readonly concurrency?: number;
  /** How often a dirty view is aggregated again (default 1 s). */
  readonly tickMs?: number;
  /** How often the view is aggregated again anyway, for reports going stale (default 10 s). */
  readonly staleCheckMs?: number;
}

interface Deps extends ClassPolicy {
  readonly clients: KubeClients;
  readonly log: Logger;
  readonly services: () => readonly KubeService[];
  readonly service: (key: string) => KubeService | undefined;
  readonly pools: () => readonly KubeVipPool[];
  readonly now?: () => Date;
  readonly restartDelayMs?: number;
}

const ANNOUNCED: ReadonlySet<string> = new Set([ConditionType.announced]);

export class ConditionWriter {
  readonly #d: Deps;
  readonly #o: Required<ConditionWriterOptions>;
  #reports: WatchedKind<KubeLbNodeStatus> | undefined;
  #views: NodeView[] = [];
  #dirty = true;
  #lastFull = 0;
  #tick: NodeJS.Timeout | undefined;
  /** Services whose conditions differ, waiting for a token. */
  readonly #pending = new Set<string>();
  #tokens: number;
  #refilledAt = Date.now();
  #inFlight = 0;
  #drain: NodeJS.Timeout | undefined;
  #stopped = false;
  #poolsBusy = false;
  /**
   * service → the resourceVersion our write was made against: until the cache shows a newer one
   * (the echo), the cached object is stale, and deciding on it would write again (a sure 409).
   */
  readonly #stale = new Map<string, string>();
  /** Status writes made, for the benchmark and the log. */
  writes = 0;

  constructor(deps: Deps, options: ConditionWriterOptions = {}) {
    this.#d = deps;
    this.#o = { writesPerSecond: 50, burst: 100, concurrency: 4, tickMs: 1000, staleCheckMs: 10_000, ...options };
    this.#tokens = this.#o.burst;
  }

  /** Starts the watch; aggregation begins once the reports are listed (never from an empty cache: every Service would go Unknown). */
  start(): void {
    this.#reports = watchKind(this.#d.clients, 'lbnodestatuses', {
      restartDelayMs: this.#d.restartDelayMs ?? 500,
      onError: (error, ms) => this.#d.log.warn({ err: error }, `LBNodeStatus watch failed; restarting in ${ms} ms`),
      onChange: () => this.touch(),
    });
    void this.#reports.synced.then(() => {
      if (this.#stopped) return;
      this.#tick = setInterval(() => this.#aggregate(), this.#o.tickMs);
      this.#tick.unref();
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#tick);
    clearTimeout(this.#drain);
    await this.#reports?.stop();
  }

  /** Full passes over the Services so far (tests wait on it rather than on time). */
  aggregations = 0;

  /** Something the conditions depend on changed: aggregate at the next tick. */
  touch(): void {
    this.#dirty = true;
  }

  /** Resolves when no write is waiting or in flight (tests and the benchmark). */
  pending(): number {
    return this.#pending.size + this.#inFlight;
  }

  #now(): Date {
    return this.#d.now?.() ?? new Date();
  }

  #aggregate(): void {
    const now = this.#now();
    if (!this.#dirty && now.getTime() - this.#lastFull < this.#o.staleCheckMs) return;
    this.#dirty = false;
    this.#lastFull = now.getTime();
    this.aggregations++;
    this.#views = freshViews(this.#reports?.list() ?? [], now);
    for (const key of this.#stale.keys()) if (this.#d.service(key) === undefined) this.#stale.delete(key);
    const services = this.#d.services();
    for (const svc of services) {
      const key = keyOf(svc);
      if (this.#stale.has(key)) {
        if (this.#stale.get(key) === svc.metadata?.resourceVersion) continue;
        this.#stale.delete(key);
      }
      if (conditionsPatch(svc, serviceStates(svc, this.#views, this.#d), now) !== undefined) this.#pending.add(key);
    }
    this.#pump();
    if (this.#poolsBusy) return;
    this.#poolsBusy = true;
    void this.#syncPools(services, now).finally(() => (this.#poolsBusy = false));
  }

  /** Takes pending Services while tokens and the concurrency allow; waits for the bucket otherwise. */
  #pump(): void {
    const { writesPerSecond, burst, concurrency } = this.#o;
    const t = Date.now();
    this.#tokens = Math.min(burst, this.#tokens + ((t - this.#refilledAt) / 1000) * writesPerSecond);
    this.#refilledAt = t;
    for (const key of this.#pending) {
      if (this.#stopped || this.#inFlight >= concurrency || this.#tokens < 1) break;
      this.#pending.delete(key);
      this.#tokens -= 1;
      this.#inFlight++;
      void this.#write(key).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
    if (this.#pending.size > 0 && this.#tokens < 1 && this.#drain === undefined && !this.#stopped) {
      this.#drain = setTimeout(() => {
        this.#drain = undefined;
        this.#pump();
      }, Math.ceil(1000 / writesPerSecond));
    }
  }

  /** Decided again on the cached Service now (it may have changed while it waited); conditional on its resourceVersion. */
  async #write(key: string): Promise<void> {
    const svc = this.#d.service(key);
    if (svc === undefined || (this.#stale.has(key) && this.#stale.get(key) === svc.metadata?.resourceVersion)) return;
    const now = this.#now();
    const conditions = conditionsPatch(svc, serviceStates(svc, this.#views, this.#d), now);
    if (conditions === undefined) return;
    const [ns, name] = [svc.metadata?.namespace ?? '', svc.metadata?.name ?? ''];
    try {
      this.writes++;
      await this.#d.clients.patchServiceStatus(ns, name, { conditions: conditions.length === 0 ? null : conditions }, svc.metadata?.resourceVersion);
      this.#stale.set(key, svc.metadata?.resourceVersion ?? '');
    } catch (error) {
      const status = statusOf(error);
      // 409: changed since the cache saw it; its watch event makes the next tick decide again.
      if (status !== 409 && status !== 404) this.#d.log.warn({ service: key, err: error }, 'could not write the Served/Announced conditions; retrying');
      this.touch();
    }
  }

  async #syncPools(services: readonly KubeService[], now: Date): Promise<void> {
    const vips = vipAnnouncements(services, (svc) => serviceStates(svc, this.#views, this.#d));
    for (const pool of this.#d.pools()) {
      const state = poolAnnounced(pool, vips);
      const current = (Array.isArray(pool.status?.['conditions']) ? pool.status['conditions'] : []) as KubeCondition[];
      const mine = condition(current, ConditionType.announced, state.status, state.reason, state.message, now, pool.metadata?.generation);
      const next = replacedInPlace(current, ANNOUNCED, [mine]);
      if (sameConditions(next, current)) continue;
      try {
        await this.#d.clients.patchPoolStatus(pool.metadata?.name ?? '', { conditions: next });
      } catch (error) {
        if (statusOf(error) !== 404) this.#d.log.warn({ pool: pool.metadata?.name, err: error }, 'could not write the VIPPool Announced condition; retrying');
        this.touch();
      }
    }
  }
}
