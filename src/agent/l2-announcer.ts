// L2 mode (docs/design/017): answers ARP and NDP for the VIPs this node owns on the client segment.
// Takes the whole set of servable VIPs like every announcer; works out which of them this node
// owns from its peers' liveness (BFD, l2-liveness.ts) and the rendezvous rank (l2/eligibility.ts),
// and hands that to the responder, which answers, announces takeovers and reports conflicts.
import type { Logger } from 'pino';
import type { L2StatusView } from '../api/status.ts';
import type { BfdTransport } from '../bgp/bfd/index.ts';
import { l2InterfaceLookup, type L2Config } from '../config/index.ts';
import { owners, type L2VipSpec, type L2View, type VipOwner } from '../l2/eligibility.ts';
import { settleConflict } from '../l2/conflict.ts';
import { L2Responder, type Conflict, type ResponderOptions } from '../l2/responder.ts';
import type { Pool } from '../model/index.ts';
import { formatIp, parseIp } from '../net/index.ts';
import type { Announcer, StopKind } from './announcer.ts';
import { localAddressFacing, readInterfaces, type InterfaceTable } from './l2-interfaces.ts';
import type { L2Event } from './l2-events.ts';
import { heldKey, OwnerHistory } from './l2-owner-history.ts';
import { L2Liveness, type L2PeerLink, type L2PeerState } from './l2-liveness.ts';

export interface L2AnnouncerOptions {
  readonly log: Logger;
  /** This node's name: the one its peers rank VIPs by. */
  readonly nodeName: string;
  readonly pools: () => readonly Pool[];
  readonly interfaces?: () => InterfaceTable;
  readonly transport?: BfdTransport;
  readonly now?: () => number;
  /** The node name of the LB node using this MAC on this interface, if it is a known peer. */
  readonly peerOfMac?: (ifname: string, mac: string) => Promise<string | undefined>;
  /** Ownership taken here and conflicts, for Kubernetes Events (l2-events.ts). */
  readonly onEvent?: (event: L2Event) => void;
  /** Replaces the responder's sockets (tests). */
  readonly responder?: Pick<ResponderOptions, 'openSocket' | 'pollMs' | 'probeMs'>;
}

export interface L2VipStatus {
  readonly vip: string;
  readonly interface: string;
  /** undefined: no live node can serve it. */
  readonly owner: string | undefined;
  /** Whether this node answers for it now (false while probing or after yielding to a conflict). */
  readonly answering: boolean;
  readonly sinceMs: number;
  readonly why: string;
  readonly ranked: readonly string[];
}

export interface L2Counters {
  readonly answers: { readonly arp: number; readonly ndp: number };
  readonly announcements: number;
  readonly ownershipChanges: number;
  readonly conflicts: number;
}

export interface L2Status {
  readonly node: string;
  /** False while this node answers for nothing (dataplane broken, draining, stopping). */
  readonly eligible: boolean;
  readonly why: string;
  readonly peers: readonly L2PeerState[];
  readonly vips: readonly L2VipStatus[];
  readonly counters: L2Counters;
  /** Interfaces that could not be served, with the reason. */
  readonly failed: readonly { readonly interface: string; readonly message: string }[];
}

export interface L2Announcer extends Announcer {
  reconfigure(section: L2Config): void;
  /** The last pass applied cleanly (false: this node stops answering and its peers take over). */
  setDataplaneHealthy(healthy: boolean): void;
  /** The node drains: it hands every VIP to its peers at once. */
  setDraining(draining: boolean): void;
  status(): L2Status;
}

export function l2Announcer(initial: L2Config, options: L2AnnouncerOptions): L2Announcer {
  const { log, nodeName } = options;
  const now = options.now ?? Date.now;
  const readIfs = options.interfaces ?? readInterfaces;
  let section = initial;
  let servable: readonly string[] = [];
  let healthy = true;
  let draining = false;
  let stopped = false;
  const startedMs = now();
  const history = new OwnerHistory();
  let lastOwners: VipOwner[] = [];
  let failed: { interface: string; message: string }[] = [];
  let ownedConflicts = 0;
  let holdDownTimer: ReturnType<typeof setTimeout> | undefined;
  const contestedLogged = new Set<string>();

  const onConflict = (conflict: Conflict): void => {
    const key = `${conflict.vip}%${conflict.interface}`;
    if (conflict.while === 'probing') {
      // The other MAC answers our probes: we stay silent (responder). Said once per VIP.
      if (!contestedLogged.has(key)) log.warn({ vip: conflict.vip, interface: conflict.interface, mac: conflict.mac }, 'L2: another MAC answers for this VIP; not taking it while it does');
      contestedLogged.add(key);
      return;
    }
    ownedConflicts++;
    void settle(conflict);
  };
  const responder = new L2Responder({ ...options.responder, announce: section.announce, periodicMs: section.announce.periodicSeconds * 1000, onConflict });
  const liveness = new L2Liveness({ log, ...(options.transport === undefined ? {} : { transport: options.transport }), now, onChange: (change) => {
      evaluate();
      // A peer that comes Up may have owned some of our VIPs while we could not see each other
      // (a healed partition): claim ours once, so whichever ranks lower for a VIP yields it.
      if (change === 'up') responder.announceAll();
    },
  });

  const settle = async (conflict: Conflict): Promise<void> => {
    const vip = parseIp(conflict.vip);
    const claimant = await (options.peerOfMac?.(conflict.interface, conflict.mac) ?? Promise.resolve(undefined));
    const settled = settleConflict(vip, nodeName, claimant);
    log.warn({ vip: conflict.vip, interface: conflict.interface, mac: conflict.mac, claimant: claimant ?? null, action: settled.action }, `L2: two nodes answer for a VIP: ${settled.reason}`);
    options.onEvent?.({ kind: 'conflict', vip: conflict.vip, message: `${conflict.mac}${claimant === undefined ? '' : ` (${claimant})`} also answers for ${conflict.vip} on ${conflict.interface}; ${nodeName} ${settled.action === 'yield' ? 'yields' : 'keeps it'}: ${settled.reason}` });
    if (settled.action === 'yield') responder.yieldVip(conflict.interface, vip);
    else if (settled.action === 'reannounce') responder.announceAgain(conflict.interface, vip);
  };

  const peerLinks = (interfaces: InterfaceTable): L2PeerLink[] => {
    const links: L2PeerLink[] = [];
    for (const peer of section.peers) {
      if (peer.name === nodeName) continue;
      const pair = peer.addresses.map((a) => ({ peerAddress: a, localAddress: localAddressFacing(a, section, interfaces) })).find((p) => p.localAddress !== undefined);
      if (pair?.localAddress === undefined) {
        log.error({ l2Peer: peer.name, addresses: peer.addresses }, `L2 peer ${peer.name}: none of its addresses is in the subnet of an L2 interface; it counts as down (this node may answer for its VIPs too)`);
        continue;
      }
      links.push({ name: peer.name, localAddress: pair.localAddress, peerAddress: pair.peerAddress });
    }
    return links;
  };

  const selfEligible = (): { ok: boolean; why: string } => {
    if (stopped) return { ok: false, why: 'stopping' };
    if (draining) return { ok: false, why: 'draining: its peers answer for its VIPs' };
    if (!healthy) return { ok: false, why: 'the last pass did not apply: its peers answer for its VIPs' };
    return { ok: true, why: 'eligible' };
  };

  /** Works out the owners from what is known now and hands this node's share to the responder. */
  const evaluate = (): void => {
    if (stopped) return;
    const interfaces = readIfs();
    const interfacesOf = l2InterfaceLookup(section, options.pools(), interfaces);
    const specs: L2VipSpec[] = [];
    for (const prefix of servable) {
      const vip = parseIp(prefix.slice(0, prefix.indexOf('/')));
      for (const name of interfacesOf(vip)) specs.push({ vip, interface: name });
    }
    const peersUp = liveness.upSince();
    const view: L2View = { self: nodeName, selfSinceMs: startedMs, selfHealthy: selfEligible().ok, peers: peersUp, nowMs: now(), holdDownMs: section.failbackHoldDownSeconds * 1000 };
    lastOwners = owners(view, specs);
    record(lastOwners, view);
    const byInterface = new Map<string, ReturnType<typeof parseIp>[]>();
    for (const o of lastOwners) {
      if (!byInterface.has(o.interface)) byInterface.set(o.interface, []);
      if (o.owner === nodeName) byInterface.get(o.interface)!.push(o.vip);
    }
    const result = responder.apply({ interfaces: [...byInterface].map(([name, vips]) => ({ name, vips })) });
    for (const f of result.failed) if (!failed.some((g) => g.interface === f.interface && g.message === f.message)) log.error({ interface: f.interface }, `L2: cannot answer on ${f.interface}: ${f.message}`);
    failed = [...result.failed];
    scheduleHoldDownEnd(view);
  };

  /** Logs each owner change with its reason; a VIP taken here is an Event too. */
  const record = (current: readonly VipOwner[], view: L2View): void => {
    for (const c of history.update(current, view)) {
      log.info({ vip: c.vip, interface: c.interface, from: c.from ?? null, to: c.to ?? null }, `L2: owner ${c.from ?? 'none'} → ${c.to ?? 'none'}: ${c.why}`);
      if (c.to === nodeName) options.onEvent?.({ kind: 'takeover', vip: c.vip, message: `${nodeName} now answers ARP/NDP for ${c.vip} on ${c.interface} (was ${c.from ?? 'nobody'}): ${c.why}` });
    }
  };

  /** A node leaves its hold-down without any event: evaluate again at that moment. */
  const scheduleHoldDownEnd = (view: L2View): void => {
    clearTimeout(holdDownTimer);
    holdDownTimer = undefined;
    const times = [view.selfSinceMs, ...[...view.peers.values()].filter((t): t is number => t !== undefined)].map((t) => t + view.holdDownMs - view.nowMs).filter((ms) => ms > 0);
    if (times.length === 0) return;
    holdDownTimer = setTimeout(evaluate, Math.min(...times) + 5);
    holdDownTimer.unref();
  };

  const applyPeers = (): void => liveness.set(peerLinks(readIfs()), section.bfd);
  applyPeers();

  return {
    kind: 'l2',
    setAdvertisements(prefixes) {
      servable = prefixes;
      evaluate();
      return Promise.resolve();
    },
    reconfigure(next) {
      section = next;
      responder.setAnnounce(next.announce, next.announce.periodicSeconds * 1000);
      applyPeers();
      evaluate();
    },
    setDataplaneHealthy(next) {
      if (next === healthy) return;
      healthy = next;
      log.warn({ healthy }, healthy ? 'L2: the dataplane applied again; answering for VIPs again' : 'L2: the dataplane did not apply; handing every VIP to the peers');
      liveness.setSilent(!selfEligible().ok);
      evaluate();
    },
    setDraining(next) {
      if (next === draining) return;
      draining = next;
      liveness.setSilent(!selfEligible().ok);
      evaluate();
    },
    status() {
      const eligible = selfEligible();
      const answering = new Set(responder.owned().flatMap((p) => p.vips.map((v) => heldKey(v, p.interface))));
      const vips = lastOwners.map((o) => {
        const vip = formatIp(o.vip);
        const h = history.get(vip, o.interface);
        return { vip, interface: o.interface, owner: o.owner, answering: answering.has(heldKey(vip, o.interface)), sinceMs: h?.sinceMs ?? startedMs, why: h?.why ?? '', ranked: o.ranked };
      });
      const c = responder.counters;
      return {
        node: nodeName,
        eligible: eligible.ok,
        why: eligible.why,
        peers: liveness.peers(),
        vips,
        counters: { answers: { ...c.answers }, announcements: c.announcements, ownershipChanges: history.changes, conflicts: ownedConflicts },
        failed,
      };
    },
    async stop(_kind?: StopKind) {
      // Whatever the kind: peers must take the VIPs now (AdminDown tells them), not after the detection time.
      stopped = true;
      clearTimeout(holdDownTimer);
      responder.close();
      await liveness.close();
    },
  };
}

/** The status as the API serves it (times as ISO text). */
export function l2StatusView(s: L2Status): L2StatusView {
  const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    node: s.node,
    eligible: s.eligible,
    why: s.why,
    peers: s.peers.map((p) => ({ name: p.name, peerAddress: p.peerAddress, localAddress: p.localAddress, state: p.state, upSince: iso(p.upSinceMs), changedAt: iso(p.changedAtMs), reason: p.reason ?? null })),
    vips: s.vips.map((v) => ({ vip: v.vip, interface: v.interface, owner: v.owner ?? null, answering: v.answering, since: new Date(v.sinceMs).toISOString(), why: v.why, ranked: v.ranked })),
    counters: s.counters,
    failed: s.failed,
  };
}
