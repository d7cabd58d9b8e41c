import type { Logger } from 'pino';
import type { KubeClients, LeaseRecord } from '../kube/index.ts';

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

  constructor(options: LeaderElectionOptions) {
    this.#o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, now: () => Date.now(), ...options };
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
    } catch (error) {
      this.#o.log?.debug({ err: error }, 'lease update failed');
    }
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
      acquireTime: prev?.holderIdentity === identity && prev.acquireTime !== undefined ? prev.acquireTime : new Date(now),
      renewTime: new Date(now),
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
    if (!free && now - seen < durationMs) return;
    await clients.writeLease(namespace, name, mine(rec));
    this.#renewed(now);
  }

  #renewed(now: number): void {
    this.#lastRenew = now;
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
