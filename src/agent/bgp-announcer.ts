import type { Logger } from 'pino';
import { Speaker, type Advertisement, type PeerConfig, type PeerStatus } from '../bgp/index.ts';
import type { BgpConfig, BgpPeerConfig } from '../config/index.ts';
import { cidrContains, parseCidr, parseIp } from '../net/index.ts';
import type { Announcer } from './announcer.ts';

export interface BgpAnnouncer extends Announcer {
  readonly speaker: Speaker;
  /** Applies a changed `bgp:` section: peers added, removed or changed; attributes re-sent. */
  reconfigure(config: BgpConfig): Promise<void>;
  peers(): PeerStatus[];
  routesSentTo(address: string): string[];
}

export interface BgpAnnouncerOptions {
  readonly log: Logger;
  /** The VIP interface's routes (pool CIDRs), for `advertise.aggregate`. */
  readonly aggregates: () => readonly string[];
  /** This agent ran here before (its state file existed): ask routers to keep our routes (RFC 4724). */
  readonly restarted: boolean;
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
    ...(bgp.gracefulRestartSeconds > 0 ? { gracefulRestartSeconds: bgp.gracefulRestartSeconds } : {}),
  };
}

/**
 * The prefixes to announce: each servable VIP as a host route, or, with `aggregate`, each VIP
 * interface route that holds at least one servable VIP (the original set-up announced the CIDR).
 */
export function advertisementsFor(prefixes: readonly string[], config: BgpConfig, aggregates: readonly string[]): Advertisement[] {
  let announced: string[] = [...prefixes];
  if (config.advertise.aggregate) {
    const covering = new Set<string>();
    for (const prefix of prefixes) {
      const address = parseIp(prefix.slice(0, prefix.indexOf('/')));
      const route = aggregates.find((cidr) => cidrContains(parseCidr(cidr), address));
      covering.add(route ?? prefix);
    }
    announced = [...covering].sort();
  }
  const { communities, largeCommunities, localPref, med } = config.advertise;
  return announced.map((prefix) => ({
    prefix,
    ...(communities.length > 0 ? { communities } : {}),
    ...(largeCommunities.length > 0 ? { largeCommunities } : {}),
    ...(localPref === undefined ? {} : { localPref }),
    ...(med === undefined ? {} : { med }),
  }));
}

/** Announces the agent's servable VIPs with vipgate's own BGP speaker. */
export function bgpAnnouncer(initial: BgpConfig, options: BgpAnnouncerOptions): BgpAnnouncer {
  const log = options.log.child({ component: 'bgp' });
  let config = initial;
  let last: readonly string[] = [];
  const speaker = new Speaker({
    routerId: config.routerId,
    localAsn: config.localASN,
    log,
    restarted: options.restarted,
  });
  const peerKeys = new Map<string, string>();
  const addPeer = (peer: BgpPeerConfig): void => {
    const pc = peerConfig(peer, config);
    speaker.addPeer(pc);
    peerKeys.set(peer.address, JSON.stringify(pc));
  };
  for (const peer of config.peers) addPeer(peer);

  return {
    kind: 'bgp',
    speaker,
    setAdvertisements(prefixes) {
      last = prefixes;
      speaker.setAdvertisements(advertisementsFor(prefixes, config, options.aggregates()));
      return Promise.resolve();
    },
    async reconfigure(next) {
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
      speaker.setAdvertisements(advertisementsFor(last, config, options.aggregates()));
    },
    peers: () => speaker.peers(),
    routesSentTo: (address) => speaker.routesSentTo(address),
    stop: () => speaker.stop('vipgate agent stopping'),
  };
}
