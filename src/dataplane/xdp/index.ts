// The XDP engine behind the Dataplane interface: loads bpf/vipgate_xdp.o with its maps pinned in
// bpffs, attaches it, and writes the maps from the whole ServiceTable, touching only what differs.
import { mkdirSync, readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApplyOptions, ApplyReport, Dataplane, FrontendCounters, FrontendReadBack } from '../dataplane.ts';
import type { Frontend, ServiceTable } from '../../model/index.ts';
import { buildBpfObject } from './build.ts';
import { toHex } from './desired.ts';
import { XdpError, XdpErrorCode } from './errors.ts';
import { FreeList } from './free-list.ts';
import { sameValue, writeFrontends, type AppliedFrontend } from './frontends.ts';
import { CAPACITY, CONFIG_FLAGS, ENCAP_DEFAULTS, ICMP_LIMIT_DEFAULTS, LAYOUTS, MIN_ENCAP_MTU, encodeConfig, encodeIcmpLimit, encodeLpmKey, encodeU32, sumCounters, type ForwardingMode } from './layout.ts';
import { XDP_FLAGS, loadLibbpf, type BpfObject, type Libbpf, type TestRunResult } from './libbpf.ts';
import { MAP_NAMES, PROGRAM_NAME, readBackFrontends, readInstalled, runningMaps, type Installed, type MapName } from './readback.ts';
import type { RingFill } from './rings.ts';

export { XdpError, XdpErrorCode } from './errors.ts';
export { buildBpfObject, BPF_OBJECT } from './build.ts';

export interface XdpLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface XdpDataplaneOptions {
  /** Interfaces to attach to: client-facing, and (nat) the backend-facing ones replies come in on. */
  readonly interfaces: readonly string[];
  /** `auto`: native (driver) mode where the driver has it, generic otherwise; reported. */
  readonly mode: 'native' | 'generic' | 'auto';
  /** `ipip`/`gue`: the client's packet, unchanged, in a tunnel to the backend (docs/design/006). */
  readonly forwarding: ForwardingMode;
  /** Directory on a bpf filesystem; maps pinned here outlive the agent (connection table too). */
  readonly pinDir: string;
  /** The LB node's own addresses toward backends: the source of `snat: masquerade` flows (nat) and
   * of the outer header (ipip/gue; a family without one cannot be encapsulated: dropped). */
  readonly snatAddresses?: { readonly v4?: string; readonly v6?: string };
  /** Source ports for SNAT (inclusive); keep them out of net.ipv4.ip_local_port_range. */
  readonly snatPorts?: { readonly min: number; readonly max: number };
  /** ipip/gue: egress MTU toward backends (default 1500, at least 1328 = IPv6's 1280 + 48). A
   * packet that would not fit after encapsulation is answered with ICMP "too big" (with DF / IPv6). */
  readonly mtu?: number;
  /** gue: the backends' GUE (fou) UDP port; default 6080. */
  readonly guePort?: number;
  /**
   * ICMP "too big" answers per second and CPU, and how many in a row (default 1000 and 50, the
   * kernel's icmp_msgs_per_sec / icmp_msgs_burst); over it a too-big packet is dropped unanswered.
   */
  readonly icmpLimit?: { readonly perSecond: number; readonly burst: number };
  /** false: hand every rewritten packet to the kernel's stack instead of forwarding by FIB lookup. */
  readonly fib?: boolean;
  /** Default: bpf/build/vipgate_xdp.o, built when missing or stale. */
  readonly objectPath?: string;
  readonly log?: XdpLogger;
  readonly now?: () => number;
  readonly libbpf?: Libbpf;
  /** Writes a sysctl of this network namespace (`net/ipv4/conf/dc/accept_local`); default: /proc/sys. */
  readonly sysctl?: (key: string, value: string) => void;
}

/** What happened to translated packets, summed over CPUs (vg_stats, see bpf/vipgate.h). */
export interface XdpStats {
  /** Sent by XDP itself after a FIB hit: the fast path. */
  readonly forwarded: bigint;
  /** Handed to the kernel (translated) because the next hop's neighbour was unresolved. */
  readonly kernelNeighbour: bigint;
  /** Handed to the kernel (translated) for any other FIB answer, or with `fib: false`. */
  readonly kernelFib: bigint;
  readonly dropped: bigint;
  /** ICMP "too big" answers sent to clients, and too-big packets dropped unanswered over the rate. */
  readonly icmpTooBigSent: bigint;
  readonly icmpTooBigLimited: bigint;
}

export interface XdpAttachment {
  readonly interface: string;
  readonly mode: 'native' | 'generic';
}

export interface XdpDataplane extends Dataplane {
  /** Where the program is attached, and in which mode (after the first apply). */
  readonly attachments: readonly XdpAttachment[];
  /** Runs the loaded program on one packet in the kernel (BPF_PROG_TEST_RUN), for tests and benchmarks. */
  testRun(packet: Uint8Array, repeat?: number): TestRunResult;
  stats(): XdpStats;
  readBack(frontends: readonly Frontend[]): Promise<ReadonlyMap<string, FrontendReadBack>>;
}

const BPF_FS_MAGIC = 0xcafe4a11;
const STAT_COUNT = 4;

const readProcSys = (key: string): string => readFileSync(join('/proc/sys', key), 'utf8').trim();

/**
 * Makes a sysctl of this network namespace `value`: read first and written only when different,
 * because a container (the DaemonSet, hostNetwork) sees /proc/sys read-only: there the node
 * must have it set, and the error says so.
 */
function ensureProcSys(key: string, value: string): void {
  if (readProcSys(key) === value) return;
  try {
    writeFileSync(join('/proc/sys', key), value);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') throw error;
    throw new XdpError(
      XdpErrorCode.attachFailed,
      `${key.replaceAll('/', '.')} must be ${value} and this process cannot set it (${code}: in a container /proc/sys is read-only); set it on the node, e.g. net.ipv4.conf.all.accept_local=1 in /etc/sysctl.d/`,
      { cause: error },
    );
  }
}

export function xdpDataplane(options: XdpDataplaneOptions): XdpDataplane {
  if (options.interfaces.length === 0 && options.fib !== false) {
    throw new XdpError(XdpErrorCode.badOptions, 'xdpDataplane needs at least one interface to attach to');
  }
  // Below the kernel's ephemeral range (32768–60999), so the node's own connections never
  // collide with SNAT ports; 31,744 ports per (backend, LB address) let a port rest for the
  // backends' 60 s TIME_WAIT before reuse at up to ~500 new connections per second.
  const ports = options.snatPorts ?? { min: 1024, max: 32_767 };
  if (!Number.isInteger(ports.min) || !Number.isInteger(ports.max) || ports.min < 1024 || ports.max > 65_535 || ports.min > ports.max) {
    throw new XdpError(XdpErrorCode.badOptions, `snatPorts must be 1024 ≤ min ≤ max ≤ 65535, got ${ports.min}–${ports.max}`);
  }
  const mtu = options.mtu ?? ENCAP_DEFAULTS.mtu;
  if (!Number.isInteger(mtu) || mtu < MIN_ENCAP_MTU || mtu > 65_535) {
    throw new XdpError(XdpErrorCode.badOptions, `mtu must be an integer ${MIN_ENCAP_MTU}–65535 (IPv6's minimum 1280 plus the 48-byte GUE/IPv6 header), got ${mtu}`);
  }
  const guePort = options.guePort ?? ENCAP_DEFAULTS.guePort;
  if (!Number.isInteger(guePort) || guePort < 1 || guePort > 65_535) {
    throw new XdpError(XdpErrorCode.badOptions, `guePort must be an integer 1–65535, got ${guePort}`);
  }
  const icmpLimit = options.icmpLimit ?? ICMP_LIMIT_DEFAULTS;
  if (!Number.isInteger(icmpLimit.perSecond) || icmpLimit.perSecond < 1 || icmpLimit.perSecond > 1_000_000 || !Number.isInteger(icmpLimit.burst) || icmpLimit.burst < 1 || icmpLimit.burst > 100_000) {
    throw new XdpError(XdpErrorCode.badOptions, `icmpLimit must be { perSecond: 1–1000000, burst: 1–100000 }, got ${JSON.stringify(icmpLimit)}`);
  }
  const encapsulating = options.forwarding === 'ipip' || options.forwarding === 'gue';
  const now = options.now ?? (() => performance.now());
  const log = options.log;
  const attachments: XdpAttachment[] = [];
  let bpf: Libbpf | undefined;
  let obj: BpfObject | undefined;
  const fds = new Map<MapName, number>();
  let progFd = -1;
  let cpus = 1;
  let installed: Installed | undefined;
  let closed = false;
  const slots = new FreeList('slot', CAPACITY.services);
  const indices = new FreeList('backend index', CAPACITY.backends);
  const rings: { fill: RingFill } = { fill: 'mmap' };
  /** frontend key → the frontend last written for it; empty until a pass wrote the whole table. */
  const applied = new Map<string, AppliedFrontend>();

  const fd = (name: MapName): number => fds.get(name)!;

  function load(): Libbpf {
    if (closed) throw new XdpError(XdpErrorCode.closed, 'the XDP dataplane was used after close()');
    if (bpf !== undefined) return bpf;
    mkdirSync(options.pinDir, { recursive: true });
    if (statfsSync(options.pinDir).type !== BPF_FS_MAGIC) {
      throw new XdpError(XdpErrorCode.badOptions, `pinDir ${options.pinDir} is not on a bpf filesystem; mount one first (mount -t bpf bpf /sys/fs/bpf)`);
    }
    const lib = options.libbpf ?? loadLibbpf();
    const running = runningMaps(lib, options.interfaces, options.pinDir);
    try {
      obj = lib.openObject(options.objectPath ?? buildBpfObject(), options.pinDir, running);
    } finally {
      for (const mapFd of running.values()) lib.closeFd(mapFd);
    }
    if (obj.reused.length > 0) log?.info({ maps: obj.reused, pinDir: options.pinDir }, 'took over the maps of the xdp program already attached (none were pinned here)');
    progFd = obj.programFd(PROGRAM_NAME);
    for (const name of MAP_NAMES) fds.set(name, obj.mapFd(name));
    cpus = lib.possibleCpus();
    if (encapsulating) {
      const missing = (['v4', 'v6'] as const).filter((f) => options.snatAddresses?.[f] === undefined);
      if (missing.length > 0) log?.warn({ forwarding: options.forwarding, missing }, 'no LB address for these families (snatAddresses): their VIP traffic cannot be encapsulated and is dropped');
    }
    for (const name of options.interfaces) attachments.push(attach(lib, name));
    bpf = lib;
    return lib;
  }

  function attach(lib: Libbpf, name: string): XdpAttachment {
    const ifindex = lib.ifIndex(name);
    if (options.forwarding !== 'dsr-l2' && options.snatAddresses?.v4 !== undefined) {
      // The slow path (bpf/vipgate_forward.h, forward()): until the next hop's neighbour is known the
      // kernel forwards the translated (nat) or encapsulated (ipip/gue) packet, whose source is
      // this node's own address. Without accept_local the kernel drops it as martian and never
      // resolves the neighbour. all/accept_local=1 (how a node sets it for every interface)
      // does it too: the kernel ORs the two.
      if (options.sysctl !== undefined) options.sysctl(`net/ipv4/conf/${name}/accept_local`, '1');
      else if (readProcSys('net/ipv4/conf/all/accept_local') !== '1') ensureProcSys(`net/ipv4/conf/${name}/accept_local`, '1');
    }
    // The interface's own MAC: the program starts flows only for frames addressed to it (or
    // multicast), never for another host's flooded unicast (bpf/vipgate_backend.h, for_another_host).
    const mac = readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim().split(':').map((h) => Number.parseInt(h, 16));
    if (mac.length === 6 && mac.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
      lib.mapUpdate(fds.get('vg_ifaces')!, encodeU32(ifindex), Uint8Array.from([...mac, 0, 0]));
    } else {
      log?.warn({ interface: name }, 'interface has no Ethernet address; frames for other hosts are not filtered on it');
    }
    const tries: XdpAttachment['mode'][] = options.mode === 'auto' ? ['native', 'generic'] : [options.mode];
    const errors: string[] = [];
    for (const mode of tries) {
      try {
        // Replaces a program an earlier agent attached in the same mode: no gap in service.
        lib.xdpAttach(ifindex, progFd, mode === 'native' ? XDP_FLAGS.drvMode : XDP_FLAGS.skbMode);
        log?.info({ interface: name, mode }, 'xdp program attached');
        return { interface: name, mode };
      } catch (error) {
        errors.push(`${mode}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    throw new XdpError(XdpErrorCode.attachFailed, `could not attach XDP to ${name} (${errors.join('; ')})`);
  }

  /** The deny list and vg_config, whole each pass (a handful of entries); true when either changed. */
  function writeDenyAndConfig(lib: Libbpf, state: Installed, table: ServiceTable): boolean {
    let changed = false;
    const deny = new Map(table.denySources.map((c) => {
      const k = encodeLpmKey(c);
      return [toHex(k), k] as const;
    }));
    for (const [hex, k] of deny) if (!state.deny.has(hex)) lib.mapUpdate(fd('vg_deny_sources'), k, new Uint8Array([1]));
    for (const hex of state.deny) if (!deny.has(hex)) lib.mapDelete(fd('vg_deny_sources'), Buffer.from(hex, 'hex'));
    if (deny.size !== state.deny.size || [...deny.keys()].some((h) => !state.deny.has(h))) changed = true;
    state.deny.clear();
    for (const hex of deny.keys()) state.deny.add(hex);

    const config = encodeConfig({
      ...(options.snatAddresses?.v4 === undefined ? {} : { snat4: options.snatAddresses.v4 }),
      ...(options.snatAddresses?.v6 === undefined ? {} : { snat6: options.snatAddresses.v6 }),
      mode: options.forwarding,
      flags: options.fib === false ? CONFIG_FLAGS.noFib : 0,
      snatPortMin: ports.min,
      snatPortMax: ports.max,
      mtu,
      guePort,
    });
    if (state.config !== toHex(config)) {
      lib.mapUpdate(fd('vg_config'), encodeU32(0), config);
      state.config = toHex(config);
      changed = true;
    }
    // Written each pass like vg_config (8 bytes): a map pinned by an older agent holds zeros.
    lib.mapUpdate(fd('vg_icmp_limit'), encodeU32(0), encodeIcmpLimit(icmpLimit));
    return changed;
  }

  return {
    engine: 'xdp',
    get attachments() {
      return attachments;
    },

    apply(table: ServiceTable, applyOptions: ApplyOptions = {}): Promise<ApplyReport> {
      const started = now();
      const lib = load();
      let driftRepaired = false;
      const known = installed;
      if (known === undefined || applyOptions.resync === true) {
        const read = readInstalled(lib, fd, known?.backends);
        installed = read.installed;
        if (known !== undefined) driftRepaired = !sameState(known, installed);
        // The free lists change only with the installed state (and rebuilding them costs ms).
        if (known === undefined || driftRepaired) {
          slots.reset(read.usedSlots);
          indices.reset(read.usedIndices);
        }
      }
      const state = installed!;
      // A pass after a read-back looks at every frontend; later ones only at frontends that differ
      // from what this process last wrote for their key (and at keys that went away).
      if (known === undefined || applyOptions.resync === true) applied.clear();
      const fullPass = applied.size === 0;
      try {
        const fillBefore = rings.fill;
        const pass = writeFrontends({ lib, fd, cpus, state, applied, slots, indices, rings }, table, fullPass);
        if (rings.fill !== fillBefore) log?.warn({ pinDir: options.pinDir }, 'vg_rings was pinned by an older object (inner maps not mmapable): rings are filled entry by entry until the maps are recreated');
        // Deny list and config last, as before: they are not tied to any frontend.
        const other = writeDenyAndConfig(lib, state, table);
        return Promise.resolve({
          changed: pass.changed || other || pass.written > 0 || pass.removed > 0,
          frontendsWritten: pass.written,
          frontendsRemoved: pass.removed,
          driftRepaired,
          durationMs: now() - started,
        });
      } catch (error) {
        // Part of this pass may be in the maps: read them back next time rather than guess.
        installed = undefined;
        applied.clear();
        throw error;
      }
    },
    counters(): Promise<ReadonlyMap<string, FrontendCounters>> {
      const out = new Map<string, FrontendCounters>();
      if (bpf === undefined || installed === undefined) return Promise.resolve(out);
      for (const s of installed.services.values()) {
        if (s.frontendKey === undefined) continue;
        const raw = bpf.mapLookup(fd('vg_counters'), encodeU32(s.value.slot), LAYOUTS.counters.size * cpus);
        if (raw !== undefined) out.set(s.frontendKey, sumCounters(raw, cpus));
      }
      return Promise.resolve(out);
    },

    readBack(frontends: readonly Frontend[]): Promise<ReadonlyMap<string, FrontendReadBack>> {
      if (bpf === undefined) return Promise.resolve(new Map(frontends.map((f) => [f.key, { present: false, takesNewFlows: false, backends: 0, where: 'the xdp program is not loaded' }])));
      return Promise.resolve(readBackFrontends(bpf, fd, installed?.backends ?? new Map(), attachments, frontends));
    },

    stats(): XdpStats {
      const lib = load();
      const sum = (i: number): bigint => {
        const raw = lib.mapLookup(fd('vg_stats'), encodeU32(i), 8 * cpus);
        if (raw === undefined) return 0n;
        const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        let total = 0n;
        for (let cpu = 0; cpu < cpus; cpu++) total += v.getBigUint64(cpu * 8, true);
        return total;
      };
      const [forwarded, kernelNeighbour, kernelFib, dropped] = range(STAT_COUNT).map(sum) as [bigint, bigint, bigint, bigint];
      const L = LAYOUTS.icmpState;
      const icmp = lib.mapLookup(fd('vg_icmp_state'), encodeU32(0), L.size * cpus);
      let icmpTooBigSent = 0n;
      let icmpTooBigLimited = 0n;
      if (icmp !== undefined) {
        const v = new DataView(icmp.buffer, icmp.byteOffset, icmp.byteLength);
        for (let cpu = 0; cpu < cpus; cpu++) {
          icmpTooBigSent += v.getBigUint64(cpu * L.size + L.fields.sent.offset, true);
          icmpTooBigLimited += v.getBigUint64(cpu * L.size + L.fields.limited.offset, true);
        }
      }
      return { forwarded, kernelNeighbour, kernelFib, dropped, icmpTooBigSent, icmpTooBigLimited };
    },

    testRun(packet: Uint8Array, repeat = 1): TestRunResult {
      return load().testRun(progFd, packet, repeat);
    },

    cleanup(): Promise<void> {
      const lib = load();
      for (const a of attachments) {
        try {
          lib.xdpDetach(lib.ifIndex(a.interface), a.mode === 'native' ? XDP_FLAGS.drvMode : XDP_FLAGS.skbMode);
        } catch (error) {
          log?.warn({ interface: a.interface, err: error }, 'could not detach the xdp program');
        }
      }
      attachments.length = 0;
      // Unpinning frees the maps once the program and this process let go of them.
      for (const name of readdirSync(options.pinDir)) if ((MAP_NAMES as readonly string[]).includes(name)) rmSync(join(options.pinDir, name));
      installed = undefined;
      applied.clear();
      return this.close();
    },

    close(): Promise<void> {
      obj?.close();
      obj = undefined;
      bpf = undefined;
      closed = true;
      return Promise.resolve();
    },
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}


function sameState(a: Installed, b: Installed): boolean {
  if (a.services.size !== b.services.size || a.backends.size !== b.backends.size || a.deny.size !== b.deny.size) return false;
  for (const [k, s] of a.services) {
    const o = b.services.get(k);
    if (o === undefined || !sameValue(s.value, o.value) || o.allowed.size !== s.allowed.size) return false;
  }
  for (const [id, i] of a.backends) if (b.backends.get(id) !== i) return false;
  return [...a.deny].every((d) => b.deny.has(d));
}
