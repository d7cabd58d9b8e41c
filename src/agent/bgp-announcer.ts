import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { Speaker, type PeerConfig, type PeerStatus, type SentRoute } from '../bgp/index.ts';
import type { BgpConfig, BgpPeerConfig } from '../config/index.ts';
import type { Pool } from '../model/index.ts';
import type { Announcer } from './announcer.ts';
import { exportPolicy, poolLookup, vipOf, type DrainAnnouncement, type PoolOf, type Vip } from './bgp-announcer-policy.ts';

export interface BgpAnnouncer extends Announcer {
  readonly speaker: Speaker;
  /** Applies a changed `bgp:` section: peers added, removed or changed; attributes re-sent. */
  reconfigure(config: BgpConfig): Promise<void>;
  peers(): PeerStatus[];
  routesSentTo(address: string): SentRoute[];
  /** The node drains (docs/design/013-drain.md): every peer's routes re-sent as the stage says. */
  setDrain(mode: DrainAnnouncement | undefined): void;
}

export interface BgpAnnouncerOptions {
  readonly log: Logger;
  /** The VIP interface's routes (pool CIDRs), for `aggregateToVipRoutes`. */
  readonly aggregates: () => readonly string[];
  /** The pools, so that advertisements can select VIPs by pool; absent: no VIP is in a pool. */
  readonly pools?: () => readonly Pool[];
  /** This agent ran here before (its run marker existed): ask routers to keep our routes (RFC 4724). */
  readonly restarted: boolean;
  /** The dataplane survived since (same boot): F bit set (RFC 4724 §3). Default: `restarted`. */
  readonly forwardingPreserved?: boolean;
}

/** The speaker's view of one configured peer (exported for tests). */
export function peerConfig(peer: BgpPeerConfig, bgp: BgpConfig): PeerConfig {
  return {
    address: peer.address,
    asn: peer.asn,
    port: peer.port,
    holdTimeSeconds: peer.holdTime,
    passive: peer.passive,
    families: peer.families,
    ...(peer.localAddress === undefined ? {} : { localAddress: peer.localAddress }),
    ...(peer.password === undefined ? {} : { password: peer.password }),
    ...(peer.bfd === undefined ? {} : { bfd: peer.bfd }),
    ...(peer.multihop === undefined ? {} : { multihop: peer.multihop }),
    ...(peer.nextHop === undefined ? {} : { nextHop: peer.nextHop }),
    ...(bgp.gracefulRestartSeconds > 0 ? { gracefulRestartSeconds: bgp.gracefulRestartSeconds } : {}),
  };
}

/** Announces the agent's servable VIPs with vipgate's own BGP speaker. */
export function bgpAnnouncer(initial: BgpConfig, options: BgpAnnouncerOptions): BgpAnnouncer {
  const log = options.log.child({ component: 'bgp' });
  let config = initial;
  /** The section as last given (config keeps the first router ID and ASN). */
  let section = initial;
  let last: readonly string[] = [];
  let drain: DrainAnnouncement | undefined;
  const speaker = new Speaker({
    routerId: config.routerId,
    localAsn: config.localASN,
    log,
    restarted: options.restarted,
    ...(options.forwardingPreserved === undefined ? {} : { forwardingPreserved: options.forwardingPreserved }),
  });
  const peerKeys = new Map<string, string>();
  const addPeer = (peer: BgpPeerConfig): void => {
    const pc = peerConfig(peer, config);
    speaker.addPeer(pc);
    peerKeys.set(peer.address, JSON.stringify(pc));
  };
  for (const peer of config.peers) addPeer(peer);
  // The pool lookup and each VIP's pool are kept while the agent hands over the same pools array.
  let pools: { readonly of: readonly Pool[]; readonly lookup: PoolOf; vips: Map<string, Vip> } | undefined;
  // What the last accepted set was made from: most passes (a backend changed) change none of it,
  // and recomputing and re-parsing 10⁴ routes per peer for nothing costs ~0.1 s a pass.
  let applied: { readonly prefixes: readonly string[]; readonly routes: readonly string[]; readonly pools: readonly Pool[] } | undefined;
  const announce = (force: boolean): void => {
    const current = options.pools?.() ?? [];
    const routes = options.aggregates();
    if (!force && applied !== undefined && applied.pools === current && sameList(applied.prefixes, last) && sameList(applied.routes, routes)) return;
    if (pools?.of !== current) pools = { of: current, lookup: poolLookup(current), vips: new Map() };
    const { lookup, vips: known } = pools;
    const vips = new Map<string, Vip>(); // only the current VIPs stay cached
    const vipInfo = (prefix: string): Vip => {
      const vip = known.get(prefix) ?? vipOf(prefix, lookup);
      vips.set(prefix, vip);
      return vip;
    };
    const byPeer = exportPolicy(last, config, { poolOf: lookup, vipInfo, vipRoutes: routes, ...(drain === undefined ? {} : { drain }) });
    pools.vips = vips;
    // Every configured peer is in byPeer; the default only matters for a peer the speaker has and the config no longer does.
    speaker.setPeerAdvertisements({ default: [], byPeer });
    applied = { prefixes: last, routes: [...routes], pools: current };
  };

  return {
    kind: 'bgp',
    speaker,
    setAdvertisements(prefixes) {
      last = prefixes;
      announce(false);
      return Promise.resolve();
    },
    async reconfigure(next) {
      // A reload of the file that changed services only hands the same section on: nothing to
      // redo here (~30 ms at 10,000 VIPs), and the pass that follows announces the new VIPs.
      if (isDeepStrictEqual(next, section)) return;
      section = next;
      if (next.routerId !== config.routerId || next.localASN !== config.localASN) {
        log.warn('bgp.routerId or bgp.localASN changed: restart the agent to apply them (sessions would all reset)');
      }
      config = { ...next, routerId: config.routerId, localASN: config.localASN };
      const wanted = new Map(next.peers.map((p) => [p.address, p]));
      for (const address of [...peerKeys.keys()]) {
        const peer = wanted.get(address);
        if (peer === undefined || JSON.stringify(peerConfig(peer, config)) !== peerKeys.get(address)) {
          await speaker.removePeer(address);
          peerKeys.delete(address);
        }
      }
      for (const peer of next.peers) if (!peerKeys.has(peer.address)) addPeer(peer);
      announce(true);
    },
    setDrain(mode) {
      if (mode === drain) return;
      drain = mode;
      announce(true);
    },
    peers: () => speaker.peers(),
    routesSentTo: (address) => speaker.routeDetailsSentTo(address),
    stop: (kind = 'restart') => speaker.stop(kind === 'restart' ? 'vipgate agent restarting' : 'vipgate agent stopping', kind),
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}
