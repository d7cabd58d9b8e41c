import type { Logger } from 'pino';
import { refusalOf, V1MicroTime, type KubeClients, type LeaseRecord, type Refusal } from '../kube/index.ts';

export interface LeaderElectionOptions {
  readonly clients: KubeClients;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica (pod name + random suffix). */
  readonly identity: string;
  /** How long a lease holds without renewal before another replica may take it. */
  readonly leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down (before others may take over). */
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly log?: Logger;
  readonly now?: () => number;
}

/**
 * Whether leader election works, as readiness sees it: some replica (this one or another) has
 * held a renewed lease within the last lease duration. A standby watching a live leader is
 * healthy; a replica whose lease writes are all refused, with no one else leading, is not.
 */
export interface ElectionHealth {
  readonly ok: boolean;
  /** One sentence for /healthz and the log. */
  readonly reason: string;
  /** The API server's last refusal of a lease request, verbatim. */
  readonly lastRefusal?: Refusal;
  /** Lease requests the API server refused (any 4xx) since start. */
  readonly refusals: number;
}

/**
 * One active replica through a coordination.k8s.io Lease, as client-go's leaderelection does.
 * Expiry is judged by when *this* replica last saw the lease change (its own clock), never by
 * the timestamps in the lease, so clock skew between replicas cannot shorten a lease. Every
 * write carries the resourceVersion read, so two candidates racing for one lease cannot both win.
 */
export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectionOptions, 'log'>> & Pick<LeaderElectionOptions, 'log'>;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #observed: { rv: string | undefined; at: number } | undefined;
  #lastRenew = 0;
  /** When some replica was last seen leading: our renewal, or another holder's lease changing. */
  #leaderSeenAt: number;
  #lastRefusal: Refusal | undefined;
  #lastFailure: string | undefined;
  #refusals = 0;
  #unhealthyLogged = false;

  constructor(options: LeaderElectionOptions) {
    this.#o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, now: () => Date.now(), ...options };
    this.#leaderSeenAt = this.#o.now();
  }

  health(): ElectionHealth {
    const since = this.#o.now() - this.#leaderSeenAt;
    const ok = this.#leading || since <= this.#o.leaseDurationMs;
    const base = { refusals: this.#refusals, ...(this.#lastRefusal === undefined ? {} : { lastRefusal: this.#lastRefusal }) };
    if (ok) return { ok, reason: this.#leading ? 'leading' : 'standby: another replica leads', ...base };
    const why = this.#lastFailure ?? 'no replica holds the lease';
    return { ok, reason: `no leader for ${Math.round(since / 1000)} s (lease duration ${Math.round(this.#o.leaseDurationMs / 1000)} s): ${why}`, ...base };
  }

  isStopped(): boolean {
    return this.#stopped;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    void this.#tick();
  }

  /** Stops campaigning; a leader releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#setLeading(false);
    try {
      const rec = await this.#o.clients.readLease(this.#o.namespace, this.#o.name);
      if (rec?.holderIdentity === this.#o.identity) {
        await this.#o.clients.writeLease(this.#o.namespace, this.#o.name, { ...rec, holderIdentity: '', leaseDurationSeconds: 1 });
      }
    } catch (error) {
      this.#o.log?.warn({ err: error }, 'could not release the lease; standbys take over when it expires');
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#tryAcquireOrRenew();
      this.#lastFailure = undefined;
    } catch (error) {
      this.#failed(error);
    }
    this.#reportHealth();
    if (this.#leading && this.#o.now() - this.#lastRenew > this.#o.renewDeadlineMs) {
      this.#o.log?.warn('lease not renewed within the renew deadline; stepping down');
      this.#setLeading(false);
    }
    // stop() may have run during the awaits above.
    if (!this.isStopped()) this.#timer = setTimeout(() => void this.#tick(), this.#o.retryPeriodMs);
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const { clients, namespace, name, identity } = this.#o;
    const now = this.#o.now();
    const mine = (prev: LeaseRecord | undefined): LeaseRecord => ({
      ...(prev?.resourceVersion === undefined ? {} : { resourceVersion: prev.resourceVersion }),
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
      acquireTime: prev?.holderIdentity === identity && prev.acquireTime !== undefined ? prev.acquireTime : new V1MicroTime(now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (prev !== undefined && prev.holderIdentity !== identity ? 1 : 0),
    });
    const rec = await clients.readLease(namespace, name);
    if (rec === undefined) {
      await clients.writeLease(namespace, name, mine(undefined));
      this.#renewed(now);
      return;
    }
    const previous = this.#observed;
    const observed = previous !== undefined && previous.rv === rec.resourceVersion ? previous : { rv: rec.resourceVersion, at: now };
    this.#observed = observed;
    if (rec.holderIdentity === identity) {
      await clients.writeLease(namespace, name, mine(rec));
      this.#renewed(now);
      return;
    }
    if (this.#leading) {
      this.#o.log?.warn({ holder: rec.holderIdentity }, 'another replica holds the lease; stepping down');
      this.#setLeading(false);
    }
    const seen = observed.at;
    const free = rec.holderIdentity === undefined || rec.holderIdentity === '';
    const durationMs = (rec.leaseDurationSeconds ?? 15) * 1000;
    if (!free && now - seen < durationMs) {
      this.#leaderSeenAt = Math.max(this.#leaderSeenAt, seen);
      return;
    }
    await clients.writeLease(namespace, name, mine(rec));
    this.#renewed(now);
  }

  /** A refused lease request is the API server telling us why we cannot lead: say it loudly. */
  #failed(error: unknown): void {
    const refusal = refusalOf(error);
    if (refusal !== undefined && refusal.status >= 400 && refusal.status < 500 && refusal.status !== 409) {
      this.#refusals++;
      this.#lastRefusal = refusal;
      this.#lastFailure = `the API server refused the lease (HTTP ${refusal.status}${refusal.reason === undefined ? '' : ` ${refusal.reason}`}): ${refusal.message}`;
      this.#o.log?.warn({ status: refusal.status, reason: refusal.reason, lease: `${this.#o.namespace}/${this.#o.name}` }, this.#lastFailure);
      return;
    }
    // A conflict is the normal end of a race with another replica; anything else is transport.
    if (refusal?.status === 409) {
      this.#o.log?.debug({ lease: `${this.#o.namespace}/${this.#o.name}` }, 'lease changed under us (409); reading it again');
      return;
    }
    this.#lastFailure = `lease request failed: ${error instanceof Error ? error.message : String(error)}`;
    this.#o.log?.warn({ err: error }, this.#lastFailure);
  }

  #reportHealth(): void {
    const h = this.health();
    if (!h.ok && !this.#unhealthyLogged) this.#o.log?.error(`not ready: ${h.reason}`);
    else if (h.ok && this.#unhealthyLogged) this.#o.log?.info(`ready again: ${h.reason}`);
    this.#unhealthyLogged = !h.ok;
  }

  #renewed(now: number): void {
    this.#lastRenew = now;
    this.#leaderSeenAt = now;
    this.#observed = undefined;
    this.#setLeading(true);
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#o.log?.info({ identity: this.#o.identity }, leading ? 'became leader' : 'stopped leading');
    if (leading) this.#o.onStartedLeading();
    else this.#o.onStoppedLeading();
  }
}
