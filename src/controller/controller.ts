import type { Logger } from 'pino';
import { Allocator, type PoolStats } from '../ipam/index.ts';
import { refusalOf, statusOf, watchKind, WorkQueue, type KubeClients, type KubeService, type KubeVipPool, type ReconcileResult, type WatchedKind } from '../kube/index.ts';
import { claimOf, ingressAddresses, keyOf, poolsFromResources, type ClassPolicy } from '../kube-model/index.ts';
import { commonLabels, externalIPParamsData, EXTERNAL_IP_PARAMS_NAME } from '../kube-model/index.ts';
import { byClaimOrder, type Claimant, type Pool } from '../model/index.ts';
import { claimedExternalIPs, decide, desiredStatus, portKeys, rebuildAllocator, type Decision } from './assign.ts';
import { EventReason } from './errors.ts';
import { EventSink } from '../kube/index.ts';
import { desiredPoolStatus, poolConflicts } from './pool-status.ts';
import { ConditionWriter, type ConditionWriterOptions } from './condition-writer.ts';

export interface ControllerOptions extends ClassPolicy {
  readonly clients: KubeClients;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Status writes retried at once on 409 before the key goes back to the queue. */
  readonly conflictRetries?: number;
  readonly informerRestartMs?: number;
  /**
   * Quiet time before VIPPool status and the admission params are brought up to date, so a burst
   * of assignments is one write per pool, not one per Service.
   */
  readonly poolSyncDelayMs?: number;
  /** Reconciles (status writes) in flight at once; one key is never reconciled twice at a time. */
  readonly concurrency?: number;
  /** vipgate's namespace, where the admission params ConfigMap lives (default vipgate-system). */
  readonly namespace?: string;
  /** How often the pools' status and the admission params are checked even with no change (default 60 s). */
  readonly poolResyncMs?: number;
  /** The Served and Announced conditions from the LB nodes' reports; false: not written. */
  readonly conditions?: ConditionWriterOptions | false;
}

const COMPONENT = 'vipgate-controller';

/**
 * Assigns VIPs to Services while this replica leads. Level-triggered: watch handlers enqueue
 * keys; `reconcile(key)` re-reads the Service from the cache and makes its status right.
 * Nothing is assigned before the allocator is rebuilt from every Service's status.
 */
export class Controller {
  readonly #o: ControllerOptions;
  readonly #queue: WorkQueue;
  readonly #events: EventSink;
  #services: WatchedKind<KubeService> | undefined;
  #pools: WatchedKind<KubeVipPool> | undefined;
  #allocator: Allocator | undefined;
  #checker: Allocator | undefined;
  #claimed = '';
  /** service → its spec.externalIPs as last seen, to notice a change in the claims cheaply. */
  readonly #claimsByKey = new Map<string, string>();
  /**
   * service → the resourceVersion our last status write produced. Its watch event (the echo) is
   * exactly the object we wrote and decided on: reconciling it again would decide the same and
   * write nothing, so it is not queued (half of all reconciles after a rebuild).
   */
  readonly #written = new Map<string, string>();
  /**
   * service → the resourceVersions of its watch events that arrived while our status write to
   * it was in flight (the echo can beat the write's answer). Held back until the answer says
   * whether they were only our own write.
   */
  readonly #during = new Map<string, string[]>();
  /** service → the last outcome we announced by Event, so a resync does not repeat it. */
  readonly #announced = new Map<string, string>();
  #ready = false;
  #poolView: { pools: Pool[]; problems: Map<string, string>; specs: string } = { pools: [], problems: new Map(), specs: '' };
  #poolTimer: NodeJS.Timeout | undefined;
  /** Brings pool status and the admission params back in line now and then (nothing watches the ConfigMap). */
  #resyncTimer: NodeJS.Timeout | undefined;
  #conditions: ConditionWriter | undefined;

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.#events = new EventSink({ clients: options.clients, log: options.log, busy: () => this.#queue.length > 0 });
    this.#queue = new WorkQueue({
      reconcile: (key) => this.reconcile(key),
      // Decisions are synchronous against the one allocator; only the status writes overlap,
      // so after a rebuild 10,000 Services are not 10,000 round trips one after the other.
      concurrency: options.concurrency ?? 16,
      baseDelayMs: 50,
      maxDelayMs: 30_000,
      onError: (key, error) => this.#o.log.warn({ service: key, err: error, ...refusalFields(error) }, `reconcile failed; retrying${said(error)}`),
    });
  }

  /** Starts the informers; resolves once the allocator is rebuilt and every Service is queued. */
  async start(): Promise<void> {
    const { clients, log } = this.#o;
    const restartDelayMs = this.#o.informerRestartMs ?? 500;
    const onError = (what: string) => (error: unknown, ms: number) => log.warn({ err: error }, `${what} watch failed; restarting in ${ms} ms`);
    this.#services = watchKind(clients, 'services', {
      restartDelayMs,
      onError: onError('service'),
      onChange: (type, svc) => {
        this.#conditions?.touch();
        if (!this.#ready) return;
        const key = keyOf(svc);
        const written = this.#written.get(key);
        if (written !== undefined) {
          this.#written.delete(key);
          if (type === 'update' && svc.metadata?.resourceVersion === written) return;
        }
        // Most changes (our own status writes among them) leave the claims alone: only when this
        // Service's externalIPs changed is the whole set recomputed, not on every event (10,000
        // status writes would otherwise cost 10,000 × 10,000).
        const mine = type === 'delete' ? '' : (svc.spec?.externalIPs ?? []).join(',');
        const had = this.#claimsByKey.get(key) ?? '';
        // Who holds a shared address may have changed (a holder gone, a claim dropped): the
        // other claimants decide again.
        if (had !== '' || mine !== '') for (const rival of this.#claimantsOf([...had.split(','), ...mine.split(',')], key)) this.#queue.add(rival);
        if (had !== mine) {
          if (mine === '') this.#claimsByKey.delete(key);
          else this.#claimsByKey.set(key, mine);
          if (claimedExternalIPs(this.#services?.list() ?? []) !== this.#claimed) {
            this.#rebuild(); // reservations changed: rebuild, then all keys
            return;
          }
        }
        const during = this.#during.get(key);
        if (during !== undefined) during.push(type === 'update' ? (svc.metadata?.resourceVersion ?? '') : '');
        else this.#queue.add(key);
      },
    });
    this.#pools = watchKind(clients, 'vippools', {
      restartDelayMs,
      onError: onError('VIPPool'),
      onChange: () => {
        this.#conditions?.touch();
        // Our own status writes come back as changes too: only a spec change is news.
        if (this.#ready && this.#poolSpecs() !== this.#poolView.specs) this.#rebuild();
      },
    });
    await Promise.all([this.#services.synced, this.#pools.synced]);
    this.#rebuild();
    this.#ready = true;
    if (this.#o.conditions !== false) {
      const services = this.#services;
      const pools = this.#pools;
      this.#conditions = new ConditionWriter({
        clients, log, isDefaultClass: this.#o.isDefaultClass, restartDelayMs,
        services: () => services.list(), service: (key) => services.get(key), pools: () => pools.list(),
        ...(this.#o.now === undefined ? {} : { now: this.#o.now }),
      }, this.#o.conditions);
      this.#conditions.start();
    }
    // Nothing watches the params ConfigMap: a periodic pass restores one deleted or edited by hand.
    this.#resyncTimer = setInterval(() => this.#schedulePoolSync(), this.#o.poolResyncMs ?? 60_000);
    this.#resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.#ready = false;
    clearTimeout(this.#poolTimer);
    clearInterval(this.#resyncTimer);
    this.#poolTimer = undefined;
    this.#queue.stop();
    await Promise.all([this.#services?.stop(), this.#pools?.stop(), this.#events.stop(), this.#conditions?.stop()]);
  }

  /** Resolves when no reconcile is queued or running and every Event is written. */
  async idle(): Promise<void> {
    await this.#queue.idle();
    await this.#events.idle();
  }

  /** service → its VIPs, as the allocator holds them now. */
  assignments(): ReadonlyMap<string, readonly string[]> {
    return this.#allocator?.assignments() ?? new Map();
  }

  #rebuild(): void {
    const services = this.#services?.list() ?? [];
    const { pools, problems } = poolsFromResources(this.#pools?.list() ?? []);
    for (const p of problems) this.#o.log.warn({ pool: p.pool }, p.message);
    this.#poolView = { pools, problems: new Map(problems.map((p) => [p.pool, p.message])), specs: this.#poolSpecs() };
    this.#claimed = claimedExternalIPs(services);
    this.#claimsByKey.clear();
    for (const svc of services) {
      const mine = (svc.spec?.externalIPs ?? []).join(',');
      if (mine !== '') this.#claimsByKey.set(keyOf(svc), mine);
    }
    this.#checker = new Allocator(pools);
    // The first build trusts the Services' status; later ones what this replica has assigned.
    this.#allocator = rebuildAllocator(pools, services, this.#o, this.#allocator?.assignments());
    for (const svc of services) this.#queue.add(keyOf(svc));
    this.#o.log.info({ services: services.length, pools: pools.length }, 'allocator rebuilt');
    this.#schedulePoolSync();
  }

  /** Keys of other Services whose externalIPs include any of `addresses`. */
  #claimantsOf(addresses: readonly string[], except: string): string[] {
    const wanted = new Set(addresses.filter((a) => a !== ''));
    const out: string[] = [];
    for (const [key, ips] of this.#claimsByKey) if (key !== except && ips.split(',').some((a) => wanted.has(a))) out.push(key);
    return out;
  }

  /**
   * The Service that holds `address` ahead of `svc` on one of its ports, if any: the first
   * holder keeps an address (model byClaimOrder, from the objects' status and creation time, so
   * a restarted controller and every agent agree). Only externalIPs claimants are scanned: few.
   */
  #firstHolderOf(svc: KubeService, address: string): string | undefined {
    const me = { key: keyOf(svc), claim: claimOf(svc) };
    const ports = new Set(portKeys(svc));
    let first: Claimant | undefined;
    for (const key of this.#claimantsOf([address], me.key)) {
      const other = this.#services?.get(key);
      if (other === undefined || !portKeys(other).some((p) => ports.has(p))) continue;
      const them = { key, claim: claimOf(other) };
      if (byClaimOrder(them, me) < 0 && (first === undefined || byClaimOrder(them, first) < 0)) first = them;
    }
    return first?.key;
  }

  #poolSpecs(): string {
    return JSON.stringify((this.#pools?.list() ?? []).map((p) => [p.metadata?.name, p.spec]).sort());
  }

  #schedulePoolSync(delayMs = this.#o.poolSyncDelayMs ?? 200): void {
    if (this.#poolTimer !== undefined) return;
    this.#poolTimer = setTimeout(() => {
      this.#poolTimer = undefined;
      this.syncPools().catch((error: unknown) => {
        this.#o.log.warn({ err: error, ...refusalFields(error) }, `could not update VIPPool status or the external-IP admission params; retrying${said(error)}`);
        if (this.#ready) this.#schedulePoolSync(1000);
      });
    }, delayMs);
  }

  /** The writer of the Served and Announced conditions, while running. */
  conditions(): ConditionWriter | undefined {
    return this.#conditions;
  }

  /** Addresses per pool and family (total, used, free) as the allocator sees them; empty before the first rebuild. */
  poolStats(): readonly PoolStats[] {
    return this.#allocator?.poolStats() ?? [];
  }

  /**
   * Brings the admission params ConfigMap and every VIPPool's status in line with the pools and
   * the allocator. Writes only what differs: the ConfigMap is read back each time, so one
   * deleted or edited by hand is put right by the next pass (a periodic one at the latest).
   */
  async syncPools(): Promise<void> {
    const allocator = this.#allocator;
    if (!this.#ready || allocator === undefined) return;
    const { pools, problems } = this.#poolView;
    const namespace = this.#o.namespace ?? 'vipgate-system';
    const done = await this.#o.clients.syncConfigMapData(namespace, EXTERNAL_IP_PARAMS_NAME, externalIPParamsData(pools), commonLabels('admission'));
    if (done !== 'unchanged') this.#o.log.info({ configMap: `${namespace}/${EXTERNAL_IP_PARAMS_NAME}` }, `admission params ${done}: the externalIPs the VIPPools allow`);
    const resources = this.#pools?.list() ?? [];
    const conflicts = poolConflicts(resources);
    const stats = allocator.poolStats();
    const now = this.#o.now?.() ?? new Date();
    for (const resource of resources) {
      const name = resource.metadata?.name ?? '';
      const body = desiredPoolStatus(resource, stats.filter((s) => s.pool === name), conflicts.get(name) ?? [], problems.get(name), now);
      if (body === undefined) continue;
      try {
        await this.#o.clients.patchPoolStatus(name, body);
      } catch (error) {
        if (statusOf(error) !== 404) throw error; // deleted meanwhile: its watch event follows
      }
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const allocator = this.#allocator;
    if (allocator === undefined) return 'retry';
    // Usage in the pools' status follows assignments (debounced: one write per burst).
    if (this.#ready) this.#schedulePoolSync();
    let svc = this.#services?.get(key);
    if (svc === undefined) {
      allocator.release(key);
      this.#announced.delete(key);
      this.#written.delete(key);
      return 'done';
    }
    const retries = this.#o.conflictRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      const current = svc;
      const decision = decide(allocator, svc, this.#o, this.#checker, (address) => this.#firstHolderOf(current, address));
      const now = this.#o.now?.() ?? new Date();
      const body = desiredStatus(svc, decision, now);
      if (body === undefined) {
        this.#announce(svc, decision, false);
        return 'done';
      }
      const before = ingressAddresses(svc).join(',');
      try {
        const [ns, name] = [svc.metadata?.namespace ?? '', svc.metadata?.name ?? ''];
        svc = await this.#writeStatus(key, ns, name, body, svc.metadata?.resourceVersion);
        this.#announce(svc, decision, before !== decision.addresses.join(','));
        return 'done';
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) {
          allocator.release(key);
          return 'done';
        }
        if (status !== 409 || attempt >= retries) throw error;
        // Someone else wrote the Service since our cache saw it: decide again on the fresh one.
        const [ns, name] = key.split('/') as [string, string];
        svc = await this.#o.clients.readService(ns, name);
      }
    }
  }

  /** The status write, with the bookkeeping that keeps its own echo from being reconciled. */
  async #writeStatus(key: string, namespace: string, name: string, body: object, resourceVersion: string | undefined): Promise<KubeService> {
    this.#during.set(key, []);
    let written: string | undefined;
    try {
      const svc = await this.#o.clients.patchServiceStatus(namespace, name, body, resourceVersion);
      written = svc.metadata?.resourceVersion;
      return svc;
    } finally {
      const seen = this.#during.get(key) ?? [];
      this.#during.delete(key);
      // Anything but the echo of this write (or any event, when the write failed) is news.
      if (seen.some((rv) => rv === '' || rv !== written)) this.#queue.add(key);
      else if (seen.length === 0 && written !== undefined) this.#written.set(key, written);
    }
  }

  /**
   * Events: VIPAllocated when the status got new VIPs; warnings when the outcome differs from
   * the last one announced for this Service (so a resync or a restart does not repeat them).
   */
  #announce(svc: KubeService, decision: Decision, vipsChanged: boolean): void {
    const key = keyOf(svc);
    const events: { type: 'Normal' | 'Warning'; reason: string; message: string }[] = [];
    if (decision.managed && decision.failure === undefined && decision.addresses.length > 0 && vipsChanged) {
      events.push({ type: 'Normal', reason: EventReason.allocated, message: `assigned VIPs ${decision.addresses.join(', ')}` });
    }
    const signature = JSON.stringify([decision.failure?.message, decision.refusedExternalIPs]);
    if (this.#announced.get(key) !== signature) {
      this.#announced.set(key, signature);
      if (decision.failure !== undefined) events.push({ type: 'Warning', reason: EventReason.allocationFailed, message: decision.failure.message });
      for (const r of decision.refusedExternalIPs) events.push({ type: 'Warning', reason: EventReason.externalIPRejected, message: r.message });
    }
    // Written behind the status (best effort: a lost Event must not hold a status back).
    for (const e of events) {
      this.#events.record({
        namespace: svc.metadata?.namespace ?? 'default',
        involved: { kind: 'Service', name: svc.metadata?.name ?? '', namespace: svc.metadata?.namespace ?? '', ...(svc.metadata?.uid === undefined ? {} : { uid: svc.metadata.uid }) },
        ...e, component: COMPONENT, at: this.#o.now?.() ?? new Date(),
      });
    }
  }
}

/** A refused write's status and reason as log fields (the message goes in the line itself). */
function refusalFields(error: unknown): { status?: number; reason?: string } {
  const r = refusalOf(error);
  return r === undefined ? {} : { status: r.status, ...(r.reason === undefined ? {} : { reason: r.reason }) };
}

/** `: <the API server's words>` for a refused request, so the log line says why. */
function said(error: unknown): string {
  const r = refusalOf(error);
  return r === undefined ? '' : `: the API server answered ${r.status}: ${r.message}`;
}
