// The L2 responder: answers ARP and NDP for the VIPs this node owns, on the interfaces they are
// owned on, and announces a VIP when it becomes ours. `apply` takes the whole desired ownership
// and works out the difference (sockets to open or close, VIPs to announce, groups to join).
import { formatIp, type IpAddress } from '../net/index.ts';
import { openPacketSocket, type PacketSocket } from './packet-socket.ts';
import { respondToArp, respondToNdp, type InterfaceView, type Outcome } from './respond.ts';
import { arpProbeFrame, gratuitousArpFrame } from './wire/arp.ts';
import { formatMac, type Mac } from './wire/ethernet.ts';
import { multicastMac, neighborProbeFrame, solicitedNodeMulticast, unsolicitedAdvertisementFrame } from './wire/ndp.ts';

/** What this node answers for: per interface, the VIPs it owns there. */
export interface L2Ownership {
  readonly interfaces: readonly { readonly name: string; readonly vips: readonly IpAddress[] }[];
}

export interface AnnounceSettings {
  /** Gratuitous ARPs / unsolicited NAs sent when a VIP becomes ours. */
  readonly count: number;
  /** Between the first and the second; each later one waits twice as long as the one before (0, 250, 750 ms for 3 × 250). */
  readonly intervalMs: number;
}

export interface Conflict {
  readonly interface: string;
  readonly vip: string;
  /** The other MAC that claimed it. */
  readonly mac: string;
  /** `probing`: the VIP is not taken while another MAC answers for it; `owning`: both answer, the caller must settle it. */
  readonly while: 'probing' | 'owning';
}

export interface ResponderCounters {
  answers: { arp: number; ndp: number };
  announcements: number;
  conflicts: number;
  /** Frames not answered, by reason (not-owned, bad-checksum, …). */
  ignored: Record<string, number>;
}

export interface ResponderOptions {
  readonly announce?: AnnounceSettings;
  /** How often received frames are read (the socket cannot wake Node; see packet-socket.ts). */
  readonly pollMs?: number;
  /**
   * How long to listen after probing a VIP before taking it (RFC 5227 style; 0 takes at once). A
   * VIP another MAC answers for is probed again every `probeRetryMs` and not answered meanwhile.
   */
  readonly probeMs?: number;
  readonly probeRetryMs?: number;
  /** Re-announce every owned VIP this often (one gratuitous ARP / unsolicited NA each); 0 or absent: never. */
  readonly periodicMs?: number;
  readonly openSocket?: (ifname: string, kind: 'arp' | 'ipv6') => PacketSocket;
  readonly onConflict?: (conflict: Conflict) => void;
}

export const DEFAULT_ANNOUNCE: AnnounceSettings = { count: 3, intervalMs: 250 };

interface Port {
  readonly arp: PacketSocket;
  readonly ipv6: PacketSocket;
  /** VIPs answered for. */
  readonly owned: Map<string, IpAddress>;
  /** VIPs probed, not answered yet. */
  readonly probing: Map<string, IpAddress>;
  /** Probing VIPs another MAC answered for during the current probe. */
  readonly contested: Set<string>;
  /** Contested VIPs waiting to be probed again: an `apply` probes them at once (the view changed; the other node may have let go). */
  readonly retrying: Set<string>;
  /** Solicited-node group MAC → how many wanted VIPs need it. */
  readonly groups: Map<string, number>;
  /** The pending probe or announcement of each VIP. */
  readonly timers: Map<string, ReturnType<typeof setTimeout>>;
}

export interface ApplyResult {
  /** Interfaces that could not be served (missing, no permission), with the reason; the others are. */
  readonly failed: readonly { readonly interface: string; readonly message: string }[];
}

export class L2Responder {
  readonly counters: ResponderCounters = { answers: { arp: 0, ndp: 0 }, announcements: 0, conflicts: 0, ignored: {} };
  readonly #ports = new Map<string, Port>();
  #announce: AnnounceSettings;
  readonly #open: (ifname: string, kind: 'arp' | 'ipv6') => PacketSocket;
  readonly #onConflict: (conflict: Conflict) => void;
  readonly #probeMs: number;
  readonly #probeRetryMs: number;
  readonly #poll: ReturnType<typeof setInterval>;
  #periodic: ReturnType<typeof setInterval> | undefined;

  constructor(options: ResponderOptions = {}) {
    this.#announce = options.announce ?? DEFAULT_ANNOUNCE;
    this.#open = options.openSocket ?? openPacketSocket;
    this.#onConflict = options.onConflict ?? (() => undefined);
    this.#probeMs = options.probeMs ?? 50;
    this.#probeRetryMs = options.probeRetryMs ?? 250;
    this.#poll = setInterval(() => this.poll(), options.pollMs ?? 10);
    this.#poll.unref();
    this.setAnnounce(this.#announce, options.periodicMs ?? 0);
  }

  /** New announcement settings: the next takeover uses them; periodic re-announcement restarts at the new period (0: off). */
  setAnnounce(announce: AnnounceSettings, periodicMs: number): void {
    this.#announce = announce;
    clearInterval(this.#periodic);
    this.#periodic = periodicMs > 0 ? setInterval(() => this.announceAll(), periodicMs) : undefined;
    this.#periodic?.unref();
  }

  /** Makes what is answered and announced match `ownership`: the whole of it, every time. */
  apply(ownership: L2Ownership): ApplyResult {
    const failed: { interface: string; message: string }[] = [];
    const wanted = new Map(ownership.interfaces.map((i) => [i.name, i.vips]));
    for (const [name, port] of this.#ports) if (!wanted.has(name)) this.#closePort(name, port);
    for (const [name, vips] of wanted) {
      let port = this.#ports.get(name);
      if (port === undefined) {
        try {
          port = this.#openPort(name);
        } catch (error) {
          failed.push({ interface: name, message: error instanceof Error ? error.message : String(error) });
          continue;
        }
      }
      this.#setOwned(port, vips);
    }
    return { failed };
  }

  /** Per interface, the VIPs answered for now and those still being probed. */
  owned(): { interface: string; mac: string; vips: string[]; probing: string[] }[] {
    return [...this.#ports].map(([name, port]) => ({ interface: name, mac: formatMac(port.arp.mac), vips: [...port.owned.keys()], probing: [...port.probing.keys()] }));
  }

  /** Reads and answers every frame waiting on every interface (the poll timer calls it; tests may too). */
  poll(): void {
    for (const [name, port] of this.#ports) {
      const view: InterfaceView = { mac: port.arp.mac, owned: port.owned, probing: port.probing };
      for (const frame of port.arp.receive()) this.#carryOut(name, port, port.arp, respondToArp(frame, view));
      for (const frame of port.ipv6.receive()) this.#carryOut(name, port, port.ipv6, respondToNdp(frame, view));
    }
  }

  /**
   * Stops answering for an owned VIP because a higher-ranked node claims it too (l2/conflict.ts),
   * and probes it again: while the other node answers the probes, this one stays silent; when
   * nobody does, it takes the VIP back. False when the VIP is not owned on that interface.
   */
  yieldVip(ifname: string, vip: IpAddress): boolean {
    const port = this.#ports.get(ifname);
    const key = formatIp(vip);
    if (port === undefined || !port.owned.has(key)) return false;
    clearTimeout(port.timers.get(key));
    port.owned.delete(key);
    port.probing.set(key, vip);
    port.contested.add(key);
    port.retrying.add(key);
    this.#later(port, key, this.#probeRetryMs, () => this.#probe(port, key, vip));
    return true;
  }

  /** Sends an owned VIP's takeover announcements again (after a lower-ranked node claimed it). */
  announceAgain(ifname: string, vip: IpAddress): boolean {
    const port = this.#ports.get(ifname);
    const key = formatIp(vip);
    if (port === undefined || !port.owned.has(key)) return false;
    clearTimeout(port.timers.get(key));
    this.#announceFrom(port, key, vip, 0);
    return true;
  }

  close(): void {
    clearInterval(this.#poll);
    clearInterval(this.#periodic);
    for (const [name, port] of this.#ports) this.#closePort(name, port);
  }

  #carryOut(name: string, port: Port, socket: PacketSocket, outcome: Outcome): void {
    if (outcome.kind === 'answer') {
      socket.send(outcome.frame);
      this.counters.answers[outcome.protocol]++;
    } else if (outcome.kind === 'conflict') {
      const vip = formatIp(outcome.vip);
      const probing = port.probing.has(vip);
      if (probing) port.contested.add(vip);
      this.counters.conflicts++;
      this.#onConflict({ interface: name, vip, mac: formatMac(outcome.mac), while: probing ? 'probing' : 'owning' });
    } else {
      this.counters.ignored[outcome.reason] = (this.counters.ignored[outcome.reason] ?? 0) + 1;
    }
  }

  #openPort(name: string): Port {
    const arp = this.#open(name, 'arp');
    let ipv6: PacketSocket;
    try {
      ipv6 = this.#open(name, 'ipv6');
    } catch (error) {
      arp.close();
      throw error;
    }
    const port: Port = { arp, ipv6, owned: new Map(), probing: new Map(), contested: new Set(), retrying: new Set(), groups: new Map(), timers: new Map() };
    this.#ports.set(name, port);
    return port;
  }

  #closePort(name: string, port: Port): void {
    for (const timer of port.timers.values()) clearTimeout(timer);
    port.arp.close();
    port.ipv6.close();
    this.#ports.delete(name);
  }

  #setOwned(port: Port, vips: readonly IpAddress[]): void {
    const next = new Map(vips.map((vip) => [formatIp(vip), vip]));
    for (const [key, vip] of [...port.owned, ...port.probing]) {
      if (next.has(key)) continue;
      clearTimeout(port.timers.get(key));
      port.timers.delete(key);
      port.owned.delete(key);
      port.probing.delete(key);
      port.contested.delete(key);
      port.retrying.delete(key);
      if (vip.family === 6) this.#group(port, vip, -1);
    }
    for (const [key, vip] of next) {
      if (port.retrying.has(key)) {
        clearTimeout(port.timers.get(key));
        this.#probe(port, key, vip);
      }
      if (port.owned.has(key) || port.probing.has(key)) continue;
      if (vip.family === 6) this.#group(port, vip, 1);
      port.probing.set(key, vip);
      this.#probe(port, key, vip);
    }
  }

  /** Asks whether anybody else answers for `vip`; takes it when nobody did within the probe time. */
  #probe(port: Port, key: string, vip: IpAddress): void {
    port.retrying.delete(key);
    if (this.#probeMs === 0) {
      this.#take(port, key, vip);
      return;
    }
    port.contested.delete(key);
    if (vip.family === 4) port.arp.send(arpProbeFrame(vip, port.arp.mac));
    else port.ipv6.send(neighborProbeFrame(vip, port.ipv6.mac));
    this.#later(port, key, this.#probeMs, () => {
      this.poll(); // an answer that came in since the last poll counts
      if (!port.probing.has(key)) return;
      if (!port.contested.has(key)) {
        this.#take(port, key, vip);
        return;
      }
      port.retrying.add(key);
      this.#later(port, key, this.#probeRetryMs, () => this.#probe(port, key, vip));
    });
  }

  #take(port: Port, key: string, vip: IpAddress): void {
    port.probing.delete(key);
    port.owned.set(key, vip);
    this.#announceFrom(port, key, vip, 0);
  }

  #later(port: Port, key: string, ms: number, run: () => void): void {
    const timer = setTimeout(run, ms);
    timer.unref();
    port.timers.set(key, timer);
  }

  /** Joins or leaves the VIP's solicited-node group, counting the VIPs that share it. */
  #group(port: Port, vip: IpAddress, change: 1 | -1): void {
    const mac: Mac = multicastMac(solicitedNodeMulticast(vip));
    const key = formatMac(mac);
    const users = (port.groups.get(key) ?? 0) + change;
    if (users === 1 && change === 1) port.ipv6.joinGroup(mac);
    if (users === 0) port.ipv6.leaveGroup(mac);
    if (users === 0) port.groups.delete(key);
    else port.groups.set(key, users);
  }

  /**
   * One announcement for every owned VIP. After two nodes that each thought they owned a VIP find
   * each other (a healed partition), this makes the claims visible, so the conflict rule leaves one.
   */
  announceAll(): void {
    for (const port of this.#ports.values()) {
      for (const vip of port.owned.values()) this.#announceOnce(port, vip);
    }
  }

  #announceOnce(port: Port, vip: IpAddress): void {
    if (vip.family === 4) port.arp.send(gratuitousArpFrame(vip, port.arp.mac));
    else port.ipv6.send(unsolicitedAdvertisementFrame(vip, port.ipv6.mac));
    this.counters.announcements++;
  }

  #announceFrom(port: Port, key: string, vip: IpAddress, sent: number): void {
    if (sent >= this.#announce.count || !port.owned.has(key)) {
      port.timers.delete(key);
      return;
    }
    this.#announceOnce(port, vip);
    this.#later(port, key, this.#announce.intervalMs * 2 ** sent, () => this.#announceFrom(port, key, vip, sent + 1));
  }
}
