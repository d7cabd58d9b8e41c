// The XDP engine behind the Dataplane interface: loads bpf/vipgate_xdp.o with its maps pinned in
// bpffs, attaches it, and writes the maps from the whole ServiceTable, touching only what differs.
import { mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApplyOptions, ApplyReport, Dataplane, FrontendCounters } from '../dataplane.ts';
import type { Frontend, ServiceTable } from '../../model/index.ts';
import { buildBpfObject } from './build.ts';
import { backendId, desiredService, ringDigest, sameFrontend, toHex, type DesiredService } from './desired.ts';
import { XdpError, XdpErrorCode } from './errors.ts';
import {
  CAPACITY,
  CONFIG_FLAGS,
  LAYOUTS,
  encodeAllowKey,
  encodeBackend,
  encodeConfig,
  encodeLpmKey,
  encodeService,
  encodeU32,
  sumCounters,
  type ServiceValue,
} from './layout.ts';
import { XDP_FLAGS, loadLibbpf, type BpfObject, type Libbpf, type TestRunResult } from './libbpf.ts';
import { MAP_NAMES, PROGRAM_NAME, readInstalled, runningMaps, type Installed, type InstalledService, type MapName } from './readback.ts';
import { RING_BATCH, fillRing, swapRingsFallingBack, type PendingRing, type RingFill } from './rings.ts';

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
  readonly forwarding: 'nat' | 'dsr-l2';
  /** Directory on a bpf filesystem; maps pinned here outlive the agent (connection table too). */
  readonly pinDir: string;
  /** The LB node's own addresses toward backends, used as source for `snat: masquerade`. */
  readonly snatAddresses?: { readonly v4?: string; readonly v6?: string };
  /** Source ports for SNAT (inclusive); keep them out of net.ipv4.ip_local_port_range. */
  readonly snatPorts?: { readonly min: number; readonly max: number };
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
}

const BPF_FS_MAGIC = 0xcafe4a11;
const STAT_COUNT = 4;

function writeProcSys(key: string, value: string): void {
  writeFileSync(join('/proc/sys', key), value);
}

export function xdpDataplane(options: XdpDataplaneOptions): XdpDataplane {
  if (options.interfaces.length === 0 && options.fib !== false) {
    throw new XdpError(XdpErrorCode.badOptions, 'xdpDataplane needs at least one interface to attach to');
  }
  const ports = options.snatPorts ?? { min: 61_000, max: 65_535 };
  if (!Number.isInteger(ports.min) || !Number.isInteger(ports.max) || ports.min < 1024 || ports.max > 65_535 || ports.min > ports.max) {
    throw new XdpError(XdpErrorCode.badOptions, `snatPorts must be 1024 ≤ min ≤ max ≤ 65535, got ${ports.min}–${ports.max}`);
  }
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
  let freeSlots: number[] = [];
  let freeIndices: number[] = [];
  let slotHead = 0;
  let indexHead = 0;
  /** frontend key → the frontend last written for it; empty until a pass wrote the whole table. */
  let ringFill: RingFill = 'mmap';
  const applied = new Map<string, { readonly frontend: Frontend; readonly keyHex: string }>();

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
    for (const name of options.interfaces) attachments.push(attach(lib, name));
    bpf = lib;
    return lib;
  }

  function attach(lib: Libbpf, name: string): XdpAttachment {
    const ifindex = lib.ifIndex(name);
    if (options.forwarding === 'nat' && options.snatAddresses?.v4 !== undefined) {
      // The slow path (bpf/vipgate_xdp.c, forward()): until the next hop's neighbour is known the
      // kernel forwards the translated packet, whose source is this node's own address. Without
      // accept_local the kernel drops it as martian and never resolves the neighbour.
      (options.sysctl ?? writeProcSys)(`net/ipv4/conf/${name}/accept_local`, '1');
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

  function writeFrontends(lib: Libbpf, state: Installed, table: ServiceTable, fullPass: boolean, started: number, driftRepaired: boolean): ApplyReport {
    const tableKeys = new Set<string>();
    const todo: DesiredService[] = [];
    for (const f of table.frontends) {
      tableKeys.add(f.key);
      if (fullPass || !sameFrontend(applied.get(f.key)?.frontend, f)) todo.push(desiredService(f));
    }
    let written = 0;
    let removed = 0;
    let changed = false;

    // Slots first (new services get theirs now), then backends: rings refer to their indices.
    const slotOf = new Map<string, number>();
    for (const d of todo) slotOf.set(d.keyHex, state.services.get(d.keyHex)?.value.slot ?? take(freeSlots, 'slot'));
    const wantedBackends = new Map<string, { address: string; port: number; slot: number }>();
    for (const d of todo) {
      const slot = slotOf.get(d.keyHex)!;
      for (const b of d.frontend.backends) wantedBackends.set(`${slot}/${backendId(b.address, b.port)}`, { address: b.address, port: b.port, slot });
    }
    const fresh: { index: number; value: Uint8Array }[] = [];
    for (const [id, b] of wantedBackends) {
      if (state.backends.has(id)) continue;
      const index = take(freeIndices, 'backend index');
      fresh.push({ index, value: encodeBackend({ ...b, present: true }) });
      state.backends.set(id, index);
    }
    // A cold pass adds 100,000 of them: one syscall per 1,024, not one each.
    for (let start = 0; start < fresh.length; start += RING_BATCH) writeBatch(lib, fd('vg_backends'), fresh.slice(start, start + RING_BATCH), LAYOUTS.backend.size);
    if (fresh.length > 0) changed = true;

    // Backends a changed frontend had: cleared below unless still wanted (incremental passes).
    const candidates: string[] = [];
    if (!fullPass) {
      for (const d of todo) {
        const before = applied.get(d.frontend.key);
        for (const b of before?.frontend.backends ?? []) candidates.push(`${slotOf.get(d.keyHex)!}/${backendId(b.address, b.port)}`);
      }
    }

    // A chunk at a time: its rings are filled, swapped in together (one grace period), and only
    // then are its service keys written, so the program never finds a frontend without its ring.
    for (let start = 0; start < todo.length; start += RING_BATCH) {
      const chunk = todo.slice(start, start + RING_BATCH);
      const pending: PendingRing[] = [];
      const values: { readonly d: DesiredService; readonly value: ServiceValue; readonly write: boolean; readonly allowed: Set<string> }[] = [];
      try {
        for (const d of chunk) {
          const current = state.services.get(d.keyHex);
          const slot = slotOf.get(d.keyHex)!;
          if (current === undefined) lib.mapUpdate(fd('vg_counters'), encodeU32(slot), new Uint8Array(LAYOUTS.counters.size * cpus));
          const allowed = new Map((d.allowedSources ?? []).map((c) => {
            const k = encodeAllowKey(slot, c);
            return [toHex(k), k] as const;
          }));
          for (const [hex, k] of allowed) if (current?.allowed.has(hex) !== true) lib.mapUpdate(fd('vg_allowed_sources'), k, new Uint8Array([1]));
          for (const hex of current?.allowed ?? []) if (!allowed.has(hex)) lib.mapDelete(fd('vg_allowed_sources'), Buffer.from(hex, 'hex'));
          const digest = d.ringSize === 0 ? 0n : ringDigest(d.ringSize, d.ringInput.map((e) => ({ ...e, index: state.backends.get(`${slot}/${e.id}`)! })));
          // A service left without a ring keeps its old inner map until the slot gets a new
          // one: ring_size 0 already stops the program reading it, and a delete would cost a
          // grace period of its own.
          if (d.ringSize !== 0 && (current?.value.ringHash !== digest || current.value.ringSize !== d.ringSize)) pending.push(fillRing(lib, slot, d, state.backends, ringFill));
          const value: ServiceValue = { slot, ringSize: d.ringSize, flags: d.flags, ringHash: digest };
          const sameAllowed = current !== undefined && current.allowed.size === allowed.size && [...allowed.keys()].every((h) => current.allowed.has(h));
          values.push({ d, value, write: current === undefined || !sameValue(current.value, value) || !sameAllowed, allowed: new Set(allowed.keys()) });
        }
        const fill = swapRingsFallingBack(lib, fd('vg_rings'), pending, ringFill, state.backends);
        if (fill !== ringFill) log?.warn({ pinDir: options.pinDir }, 'vg_rings was pinned by an older object (inner maps not mmapable): rings are filled entry by entry until the maps are recreated');
        ringFill = fill;
      } finally {
        for (const p of pending) if (p.fd >= 0) lib.closeFd(p.fd);
      }
      for (const { d, value, write, allowed } of values) {
        if (write) {
          lib.mapUpdate(fd('vg_services'), d.key, encodeService(value));
          written++;
        }
        state.services.set(d.keyHex, { value, allowed, frontendKey: d.frontend.key });
        applied.set(d.frontend.key, { frontend: d.frontend, keyHex: d.keyHex });
      }
    }

    // Services gone: in a full pass every installed key not wanted, else the keys last written
    // that left the table. Backends that may have lost their service go to `candidates`.
    if (fullPass) {
      const wantedKeys = new Set(todo.map((d) => d.keyHex));
      for (const [hex, current] of state.services) {
        if (wantedKeys.has(hex)) continue;
        removeService(lib, state, hex, current);
        removed++;
      }
    }
    for (const [key, a] of applied) {
      if (tableKeys.has(key)) continue;
      applied.delete(key);
      const current = state.services.get(a.keyHex);
      if (current === undefined) continue;
      for (const b of a.frontend.backends) candidates.push(`${current.value.slot}/${backendId(b.address, b.port)}`);
      removeService(lib, state, a.keyHex, current);
      removed++;
    }
    // Backends last: a cleared entry sends its pinned flows back to the ring; its index is
    // reused only after every fresh one, so a stale flow entry rarely meets a new backend.
    for (const id of fullPass ? [...state.backends.keys()] : candidates) {
      const index = state.backends.get(id);
      if (index === undefined || wantedBackends.has(id)) continue;
      lib.mapUpdate(fd('vg_backends'), encodeU32(index), new Uint8Array(LAYOUTS.backend.size));
      state.backends.delete(id);
      freeIndices.push(index);
      changed = true;
    }

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
    });
    if (state.config !== toHex(config)) {
      lib.mapUpdate(fd('vg_config'), encodeU32(0), config);
      state.config = toHex(config);
      changed = true;
    }
    return {
      changed: changed || written > 0 || removed > 0,
      frontendsWritten: written,
      frontendsRemoved: removed,
      driftRepaired,
      durationMs: now() - started,
    };
}


  function writeBatch(lib: Libbpf, mapFd: number, entries: readonly { index: number; value: Uint8Array }[], valueSize: number): void {
    if (entries.length === 0) return;
    const keys = new Uint32Array(entries.length);
    const values = new Uint8Array(entries.length * valueSize);
    entries.forEach((e, i) => {
      keys[i] = e.index;
      values.set(e.value, i * valueSize);
    });
    lib.mapUpdateBatch(mapFd, new Uint8Array(keys.buffer), values, entries.length);
  }

  function removeService(lib: Libbpf, state: Installed, hex: string, current: InstalledService): void {
    lib.mapDelete(fd('vg_services'), Buffer.from(hex, 'hex'));
    // The ring stays with the freed slot: the service key was the only way to it, the next
    // service on that slot swaps in its own before its key, and a delete would wait a grace period.
    for (const a of current.allowed) lib.mapDelete(fd('vg_allowed_sources'), Buffer.from(a, 'hex'));
    freeSlots.push(current.value.slot);
    state.services.delete(hex);
  }

  function take(list: number[], what: string): number {
    // A queue read from the front: Array#shift on 131,072 entries is a memmove per call.
    const head = what === 'slot' ? slotHead++ : indexHead++;
    const next = list[head];
    if (head > 65_536 && head * 2 > list.length) {
      list.splice(0, head + 1);
      if (what === 'slot') slotHead = 0;
      else indexHead = 0;
    }
    if (next === undefined) throw new XdpError(XdpErrorCode.capacityExceeded, `no free ${what}: the maps hold ${what === 'slot' ? CAPACITY.services : CAPACITY.backends}`);
    return next;
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
          freeSlots = range(CAPACITY.services).filter((x) => !read.usedSlots.has(x));
          freeIndices = range(CAPACITY.backends).filter((i) => !read.usedIndices.has(i));
          slotHead = 0;
          indexHead = 0;
        }
      }
      const state = installed!;
      // A pass after a read-back looks at every frontend; later ones only at frontends that differ
      // from what this process last wrote for their key (and at keys that went away).
      if (known === undefined || applyOptions.resync === true) applied.clear();
      const fullPass = applied.size === 0;
      try {
        return Promise.resolve(writeFrontends(lib, state, table, fullPass, started, driftRepaired));
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
      return { forwarded, kernelNeighbour, kernelFib, dropped };
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

function sameValue(a: ServiceValue, b: ServiceValue): boolean {
  return a.slot === b.slot && a.ringSize === b.ringSize && a.flags === b.flags && a.ringHash === b.ringHash;
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
