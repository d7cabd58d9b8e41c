// Which other L2 LB nodes are alive, as this node sees them: one single-hop BFD session to each,
// over the L2 segment the clients use (docs/design/017, "Liveness"). "Alive" is "its BFD session is
// Up"; the time it came Up feeds the failback hold-down. A node that must stop answering (its
// dataplane is broken, it drains, it stops) takes its sessions AdminDown: its peers drop it at
// once instead of waiting for the detection time.
import type { Logger } from 'pino';
import { BfdState, BfdSession, UdpBfdTransport, type BfdConfig, type BfdTransport } from '../bgp/bfd/index.ts';

/** A peer and the addresses its session runs between. */
export interface L2PeerLink {
  readonly name: string;
  readonly localAddress: string;
  readonly peerAddress: string;
}

export interface L2PeerState {
  readonly name: string;
  readonly localAddress: string;
  readonly peerAddress: string;
  /** BFD state name (Down, Init, Up, AdminDown). */
  readonly state: string;
  /** Since when it has been Up (ms, the liveness clock); undefined while it is not. */
  readonly upSinceMs: number | undefined;
  /** When its state last changed, and why (BFD's reason), for `vipgate l2 status`. */
  readonly changedAtMs: number | undefined;
  readonly reason: string | undefined;
}

export interface L2LivenessOptions {
  readonly log: Logger;
  readonly transport?: BfdTransport;
  readonly now?: () => number;
  /** A peer came Up (`up`) or stopped being Up (`down`). */
  readonly onChange: (change: 'up' | 'down', peer: string) => void;
}

interface Tracked {
  readonly link: L2PeerLink;
  readonly key: string;
  session: BfdSession | undefined;
  upSinceMs: number | undefined;
  changedAtMs: number | undefined;
  reason: string | undefined;
}

const linkKey = (l: L2PeerLink, config: BfdConfig): string => `${l.name}|${l.localAddress}|${l.peerAddress}|${config.minTxMs}|${config.minRxMs}|${config.multiplier}`;

export class L2Liveness {
  readonly #tracked = new Map<string, Tracked>(); // peer name → its session
  readonly #transport: BfdTransport;
  readonly #now: () => number;
  #silent = false;
  #config: BfdConfig | undefined;

  constructor(private readonly options: L2LivenessOptions) {
    this.#transport = options.transport ?? new UdpBfdTransport();
    this.#now = options.now ?? Date.now;
  }

  /** The whole set of peers: sessions of removed or changed peers stop, new ones start. */
  set(links: readonly L2PeerLink[], config: BfdConfig): void {
    this.#config = config;
    const wanted = new Map(links.map((l) => [l.name, l]));
    for (const [name, t] of this.#tracked) {
      const next = wanted.get(name);
      if (next === undefined || linkKey(next, config) !== t.key) {
        void this.#stopSession(t);
        this.#tracked.delete(name);
        if (t.upSinceMs !== undefined) this.options.onChange('down', name);
      }
    }
    for (const link of links) {
      if (this.#tracked.has(link.name)) continue;
      const t: Tracked = { link, key: linkKey(link, config), session: undefined, upSinceMs: undefined, changedAtMs: undefined, reason: undefined };
      this.#tracked.set(link.name, t);
      if (!this.#silent) this.#startSession(t);
    }
  }

  /**
   * `true`: this node must not be chosen (broken dataplane, drain, stop): every session goes
   * AdminDown (RFC 5880 §6.8.16), so peers stop counting on it now. `false`: sessions start again.
   */
  setSilent(silent: boolean): void {
    if (silent === this.#silent) return;
    this.#silent = silent;
    for (const t of this.#tracked.values()) {
      if (silent) {
        void this.#stopSession(t);
        if (t.upSinceMs !== undefined) {
          t.upSinceMs = undefined;
          this.options.onChange('down', t.link.name);
        }
      } else this.#startSession(t);
    }
  }

  /** Peer name → since when its session has been Up (undefined while it is not). */
  upSince(): Map<string, number | undefined> {
    return new Map([...this.#tracked].map(([name, t]) => [name, t.upSinceMs]));
  }

  peers(): L2PeerState[] {
    return [...this.#tracked.values()].map((t) => ({
      ...t.link,
      state: t.session?.stateName ?? 'AdminDown',
      upSinceMs: t.upSinceMs,
      changedAtMs: t.changedAtMs,
      reason: t.reason,
    }));
  }

  async close(): Promise<void> {
    this.#silent = true;
    await Promise.all([...this.#tracked.values()].map((t) => this.#stopSession(t)));
    this.#tracked.clear();
  }

  #startSession(t: Tracked): void {
    const config = this.#config;
    if (config === undefined || t.session !== undefined) return;
    const session = new BfdSession({
      localAddress: t.link.localAddress,
      peerAddress: t.link.peerAddress,
      config,
      transport: this.#transport,
      log: this.options.log.child({ l2Peer: t.link.name, bfd: true }),
      onStateChange: ({ to, reason }) => {
        if (t.session !== session) return;
        const wasUp = t.upSinceMs !== undefined;
        const isUp = to === BfdState.up;
        t.changedAtMs = this.#now();
        t.reason = reason;
        if (isUp === wasUp) return;
        t.upSinceMs = isUp ? this.#now() : undefined;
        this.options.onChange(isUp ? 'up' : 'down', t.link.name);
      },
    });
    t.session = session;
    session.start().catch((error: unknown) => {
      this.options.log.error({ l2Peer: t.link.name, err: error instanceof Error ? error.message : String(error) }, `BFD to L2 peer ${t.link.name} (${t.link.peerAddress}) could not start: it counts as down`);
    });
  }

  async #stopSession(t: Tracked): Promise<void> {
    const session = t.session;
    t.session = undefined;
    await session?.stop();
  }
}
