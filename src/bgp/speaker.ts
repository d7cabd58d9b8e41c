/**
 * The BGP speaker: peers, the desired set of advertisements, and per peer an Adj-RIB-Out so that
 * only differences go on the wire. Received routes are counted, not kept (we only announce).
 */
import { formatCidr, formatIp, parseIp, tryParseIp } from '../net/index.ts';
import { parsePeerAdvertisements, PrefixCache, routesForPeer, type Advertisement, type DesiredRoute, type PeerAdvertisements } from './advertisement.ts';
import { BgpError, BgpErrorCode } from './errors.ts';
import type { FsmStateName, StopKind } from './fsm.ts';
import type { AddressFamily, SessionParameters } from './negotiate.ts';
import { describeAttributesKey, endOfRib, planUpdates, type SentAttributes } from './rib-out.ts';
import { realTimers, silentLogger, type BgpLogger, type Timers } from './runtime.ts';
import { checkPeerConfig, DEFAULT_HOLD_TIME_SECONDS, type PeerConfig } from './peer-config.ts';
import { BGP_PORT, Session, type ConnectFn } from './session.ts';
import { BgpListener, peerTransport, socketAddress, type PeerTransport } from './transport.ts';
import { isTreatAsWithdraw, type UpdateMessage } from './wire/update.ts';
import { PeerBfd, SharedBfdTransport } from './bfd/peer-bfd.ts';
import type { BfdTransport } from './bfd/socket.ts';

/** One prefix as a peer was told it. */
export interface SentRoute extends SentAttributes {
  readonly prefix: string;
}

export type { PeerConfig } from './peer-config.ts';
export type { PeerAdvertisements } from './advertisement.ts';

export interface SpeakerOptions {
  /** BGP Identifier, an IPv4 address (RFC 6286). */
  readonly routerId: string;
  readonly localAsn: number;
  readonly log?: BgpLogger;
  readonly timers?: Timers;
  /** Accept connections from configured peers on this address (passive side); off by default. */
  readonly listen?: { readonly host: string; readonly port?: number };
  /**
   * This process replaces one that had sessions (RFC 4724 §4.1): the first OPEN to each peer
   * with graceful restart sets the Restart State bit, so routers keep our routes until our
   * End-of-RIB and then drop only what we no longer announce.
   */
  readonly restarted?: boolean;
  /**
   * RFC 4724 §3 F bit after a restart: the forwarding state (the dataplane) survived it. Default:
   * `restarted`. False after a reboot, so routers drop stale routes at once instead of trusting them.
   */
  readonly forwardingPreserved?: boolean;
  /** Replaces TCP connect (TCP MD5 sockets, tests). */
  readonly connect?: ConnectFn;
  /** Replaces BFD's UDP sockets (tests). */
  readonly bfdTransport?: BfdTransport;
}

export interface PeerStatus {
  readonly address: string;
  readonly asn: number;
  readonly state: FsmStateName;
  readonly uptimeSeconds?: number;
  readonly prefixesSent: number;
  readonly prefixesReceived: number;
  readonly updatesSent: number;
  readonly updatesReceived: number;
  readonly lastError?: string;
  readonly holdTimeSeconds?: number;
  readonly families?: readonly AddressFamily[];
  /** BFD session state ("Up", "Down"…) when BFD is configured for the peer. */
  readonly bfdState?: string;
  /** Times the session left Established since the peer was added. */
  readonly flaps: number;
}

interface Peer {
  readonly config: PeerConfig;
  readonly session: Session;
  /** How its connections are made (TTL, MD5, connect). */
  readonly transport: PeerTransport;
  readonly log: BgpLogger;
  /** What the peer has been told; undefined while not Established. */
  sent: Map<string, string> | undefined;
  /** Prefixes the peer announced to us (keys only: we keep no RIB-In). */
  readonly received: Set<string>;
  updatesSent: number;
  updatesReceived: number;
  skippedWarned: string;
  /** BFD tied to the session (does nothing without `config.bfd`). */
  readonly bfd: PeerBfd;
  /** Times the session left Established. */
  flaps: number;
  /** The first whole set is known and this Established peer has not had its End-of-RIB yet. */
  endOfRibDue: boolean;
}

export class Speaker {
  private readonly peersByAddress = new Map<string, Peer>(); // canonical peer address → peer
  private desired: readonly DesiredRoute[] = [];
  private desiredByPeer: ReadonlyMap<string, readonly DesiredRoute[]> = new Map(); // canonical peer address → its routes
  /** False until the first setAdvertisements: until then we do not know the whole set. */
  private desiredKnown = false;
  private syncGeneration = 0; // bumped by every set: an older pass over the peers stops
  private readonly prefixCache = new PrefixCache();
  private readonly log: BgpLogger;
  private readonly timers: Timers;
  private listener: BgpListener | undefined;
  private readonly bfdTransport: SharedBfdTransport;
  private stopped = false;

  constructor(private readonly options: SpeakerOptions) {
    const id = tryParseIp(options.routerId);
    if (id?.family !== 4 || id.value === 0n) throw new BgpError(BgpErrorCode.badSpeakerConfig, `routerId "${options.routerId}" must be a non-zero IPv4 address`);
    if (!Number.isInteger(options.localAsn) || options.localAsn < 1 || options.localAsn > 0xffffffff) {
      throw new BgpError(BgpErrorCode.badSpeakerConfig, `localAsn ${options.localAsn} must be 1..4294967295`);
    }
    this.log = options.log ?? silentLogger;
    this.timers = options.timers ?? realTimers;
    this.bfdTransport = new SharedBfdTransport(options.bfdTransport);
    if (options.listen !== undefined) this.listener = new BgpListener(options.listen.host, options.listen.port ?? BGP_PORT, this.peersByAddress, this.log);
  }

  /** Where the passive listener is bound, once it is (port 0 in `listen` picks a free one). */
  get listening(): { readonly address: string; readonly port: number } | undefined {
    return this.listener?.address;
  }

  /** Adds a peer and starts connecting to it (or waiting for it, if passive). */
  addPeer(config: PeerConfig): void {
    if (this.stopped) throw new BgpError(BgpErrorCode.stopped, 'the speaker is stopped');
    const address = tryParseIp(config.address);
    if (address === undefined) throw new BgpError(BgpErrorCode.badPeerConfig, `peer address "${config.address}" is not an IP address`);
    const key = formatIp(address);
    if (this.peersByAddress.has(key)) throw new BgpError(BgpErrorCode.duplicatePeer, `peer ${key} is already configured`);
    checkPeerConfig(config, key, this.options.localAsn);
    const log = this.log.child({ peer: key });
    const transport = peerTransport(config, config.asn === this.options.localAsn, this.options.connect, log);
    // The session's handlers reach the peer, which holds the session: they run only once it started.
    const session = this.newSession(key, config, transport.connect, log, () => peer);
    const bfd = new PeerBfd({
      config: config.bfd,
      peerAddress: config.address,
      localAddress: config.localAddress,
      session,
      transport: this.bfdTransport,
      timers: this.timers,
      log,
    });
    const peer: Peer = {
      config,
      session,
      transport,
      bfd,
      log,
      sent: undefined,
      received: new Set(),
      updatesSent: 0,
      updatesReceived: 0,
      flaps: 0,
      endOfRibDue: false,
      skippedWarned: '',
    };
    this.peersByAddress.set(key, peer);
    this.listener?.addPeer(key, transport);
    peer.session.start();
  }

  /** Removes a peer: Cease/Administrative Shutdown with an RFC 8203 message saying why. */
  async removePeer(address: string): Promise<void> {
    const key = formatIp(parseIp(address));
    const peer = this.peersByAddress.get(key);
    if (peer === undefined) throw new BgpError(BgpErrorCode.unknownPeer, `peer ${key} is not configured`);
    this.peersByAddress.delete(key);
    await Promise.all([peer.session.stop('peer removed from vipgate configuration'), peer.bfd.stop()]);
  }

  /**
   * Sets the WHOLE set of routes to announce. Each Established peer gets only the difference
   * from what it was told; peers that come up later get the whole set. Throws BgpError
   * (nothing changes) if any advertisement is invalid.
   */
  setAdvertisements(advertisements: readonly Advertisement[]): void {
    this.setPeerAdvertisements({ default: advertisements, byPeer: new Map() });
  }

  /**
   * Like setAdvertisements, with a set per peer (export policy). Every set is validated before
   * anything changes; a bad one names the peer.
   */
  setPeerAdvertisements(sets: PeerAdvertisements): void {
    this.prefixCache.begin();
    const { desired, byPeer } = parsePeerAdvertisements(sets, this.prefixCache);
    this.desired = desired;
    this.desiredByPeer = byPeer;
    if (!this.desiredKnown) for (const peer of this.peersByAddress.values()) peer.endOfRibDue = true;
    this.desiredKnown = true;
    const generation = ++this.syncGeneration;
    const peers = [...this.peersByAddress.values()];
    // One peer per turn of the event loop: 10⁵ routes take 0.1–0.3 s to shape and plan for one
    // peer, and eight peers in one turn would keep keepalives and BFD (900 ms detection) waiting.
    const step = (i: number): void => {
      if (this.stopped || generation !== this.syncGeneration) return;
      const peer = peers[i];
      if (peer === undefined) return;
      this.sync(peer);
      if (peer.endOfRibDue && peer.sent !== undefined) {
        peer.endOfRibDue = false;
        this.sendEndOfRib(peer);
      }
      if (i + 1 < peers.length) setImmediate(() => step(i + 1));
    };
    step(0);
  }

  /** The prefixes a peer was told about (its Adj-RIB-Out), sorted. */
  routesSentTo(address: string): string[] {
    const peer = this.peersByAddress.get(formatIp(parseIp(address)));
    return [...(peer?.sent?.keys() ?? [])].sort();
  }

  /** The same with the attributes each prefix was sent with, for `vipgate bgp routes`. */
  routeDetailsSentTo(address: string): SentRoute[] {
    const peer = this.peersByAddress.get(formatIp(parseIp(address)));
    const described = new Map<string, SentAttributes | undefined>();
    const out: SentRoute[] = [];
    for (const [prefix, key] of peer?.sent ?? []) {
      if (!described.has(key)) described.set(key, describeAttributesKey(key));
      const attributes = described.get(key);
      out.push(attributes === undefined ? { prefix, nextHops: [], communities: [], largeCommunities: [] } : { prefix, ...attributes });
    }
    return out.sort((x, y) => (x.prefix < y.prefix ? -1 : x.prefix > y.prefix ? 1 : 0));
  }

  peers(): PeerStatus[] {
    const now = this.timers.now();
    return [...this.peersByAddress.entries()].map(([address, p]) => {
      const since = p.session.establishedAt;
      const n = p.session.negotiated;
      const lastError = p.session.lastError;
      const bfdState = p.bfd.stateName;
      return {
        address,
        asn: p.config.asn,
        state: p.session.state,
        prefixesSent: p.sent?.size ?? 0,
        prefixesReceived: p.received.size,
        updatesSent: p.updatesSent,
        updatesReceived: p.updatesReceived,
        ...(since === undefined ? {} : { uptimeSeconds: Math.floor((now - since) / 1000) }),
        ...(lastError === undefined ? {} : { lastError }),
        ...(n === undefined ? {} : { holdTimeSeconds: n.holdTimeSeconds, families: n.families }),
        ...(bfdState === undefined ? {} : { bfdState }),
        flaps: p.flaps,
      };
    });
  }

  /**
   * Closes every session and stops. `remove` (default) makes routers withdraw our routes at once
   * (Cease, or Hard Reset where RFC 8538 was negotiated); `restart` keeps them as stale until the
   * next process sends End-of-RIB (graceful restart; see fsm.ts `lastWords`).
   */
  async stop(message = 'vipgate BGP speaker stopping', kind: StopKind = 'remove'): Promise<void> {
    this.stopped = true;
    const listener = this.listener;
    this.listener = undefined;
    await Promise.all([...[...this.peersByAddress.values()].flatMap((p) => [p.session.stop(message, kind), p.bfd.stop()]), listener?.close()]);
  }

  /** The BGP session of a peer; what happens on it comes back to the speaker through `peerOf()`. */
  private newSession(address: string, config: PeerConfig, connect: ConnectFn | undefined, log: BgpLogger, peerOf: () => Peer): Session {
    return new Session({
      params: this.sessionParameters(config),
      peerAddress: address,
      timers: this.timers,
      log,
      ...(config.port === undefined ? {} : { port: config.port }),
      ...(config.localAddress === undefined ? {} : { localAddress: config.localAddress }),
      ...(config.passive === undefined ? {} : { passive: config.passive }),
      ...(config.timings === undefined ? {} : { timings: config.timings }),
      ...(connect === undefined ? {} : { connect }),
      handlers: {
        onEstablished: () => this.onEstablished(peerOf()),
        onDown: () => {
          const peer = peerOf();
          peer.flaps++;
          peer.sent = undefined;
          peer.received.clear();
        },
        onUpdate: (u) => this.onUpdate(peerOf(), u),
        onRouteRefresh: () => {
          // RFC 2918: send everything again.
          const peer = peerOf();
          peer.sent = new Map();
          this.sync(peer);
        },
      },
    });
  }

  private sessionParameters(config: PeerConfig): SessionParameters {
    const gr = config.gracefulRestartSeconds;
    return {
      localAsn: this.options.localAsn,
      peerAsn: config.asn,
      routerId: this.options.routerId,
      holdTimeSeconds: config.holdTimeSeconds ?? DEFAULT_HOLD_TIME_SECONDS,
      families: config.families ?? ['ipv4', 'ipv6'],
      // Forwarding survives a restart of the speaker's process (the dataplane stays in the kernel).
      ...(gr === undefined
        ? {}
        : { gracefulRestart: { restartTimeSeconds: gr, restarting: this.options.restarted === true, forwardingPreserved: this.options.forwardingPreserved ?? this.options.restarted === true } }),
    };
  }

  private onEstablished(peer: Peer): void {
    peer.bfd.sessionUp();
    const gr = peer.config.gracefulRestartSeconds;
    if (gr !== undefined) {
      // Only the first session after the restart is a restart; later ones are ordinary. From
      // now on the dataplane this process programmed forwards, whatever happens to the session.
      peer.session.setParameters({
        ...this.sessionParameters(peer.config),
        gracefulRestart: { restartTimeSeconds: gr, restarting: false, forwardingPreserved: true },
      });
    }
    peer.sent = new Map();
    this.sync(peer);
    // Before the first setAdvertisements, End-of-RIB would tell a router that kept our routes
    // over a restart that we have none: it waits until the whole set is known.
    if (this.desiredKnown) {
      peer.endOfRibDue = false;
      this.sendEndOfRib(peer);
    }
  }

  /** RFC 4724 §2: End-of-RIB tells a router that kept our routes over a restart what is current. */
  private sendEndOfRib(peer: Peer): void {
    const n = peer.session.negotiated;
    if (n === undefined || peer.sent === undefined) return;
    for (const m of endOfRib(n.families.map((f) => (f === 'ipv4' ? 4 : 6)), { fourOctetAs: n.fourOctetAs })) peer.session.send(m);
  }

  private sync(peer: Peer): void {
    const n = peer.session.negotiated;
    if (peer.sent === undefined || n === undefined) return;
    const local = socketAddress(peer.session.localAddress);
    const configured = peer.config.nextHop ?? {};
    const v4 = configured.ipv4 ?? (local?.family === 4 ? formatIp(local) : undefined);
    const v6 = configured.ipv6 ?? (local?.family === 6 ? formatIp(local) : undefined);
    const { routes, skipped } = routesForPeer(this.desiredByPeer.get(formatIp(parseIp(peer.config.address))) ?? this.desired, {
      localAsn: this.options.localAsn,
      peerAsn: n.peerAsn,
      families: n.families,
      defaultNextHop: { ...(v4 === undefined ? {} : { ipv4: parseIp(v4) }), ...(v6 === undefined ? {} : { ipv6: parseIp(v6) }) },
    });
    const skippedText = skipped.join(',');
    if (skippedText !== '' && skippedText !== peer.skippedWarned) {
      peer.log.warn({ prefixes: skipped }, 'no next hop of the right family for these prefixes: set nextHop in the peer config');
    }
    peer.skippedWarned = skippedText;
    const plan = planUpdates(peer.sent, routes, { fourOctetAs: n.fourOctetAs });
    for (const update of plan.updates) peer.session.send(update);
    peer.sent = plan.next;
    peer.updatesSent += plan.updates.length;
    if (plan.updates.length > 0) peer.log.info({ announced: plan.announced, withdrawn: plan.withdrawn, updates: plan.updates.length }, 'sent route changes');
  }

  private onUpdate(peer: Peer, u: UpdateMessage): void {
    peer.updatesReceived++;
    const withdrawAll = isTreatAsWithdraw(u);
    for (const p of [...u.withdrawn, ...(u.attributes.mpUnreach?.withdrawn ?? [])]) peer.received.delete(formatCidr(p));
    for (const p of [...u.nlri, ...(u.attributes.mpReach?.nlri ?? [])]) {
      if (withdrawAll) peer.received.delete(formatCidr(p));
      else peer.received.add(formatCidr(p));
    }
  }
}
