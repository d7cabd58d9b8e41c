// Reading the kernel's state back: what an earlier agent (or this one) left in the maps, and the
// maps of a program already attached when their pins are gone. I/O only; the diff is in index.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FrontendReadBack } from '../dataplane.ts';
import type { Frontend } from '../../model/index.ts';
import { backendId, toHex } from './desired.ts';
import { LAYOUTS, decodeBackend, decodeService, decodeU32, encodeServiceKey, encodeU32, type ServiceValue } from './layout.ts';
import { XDP_FLAGS, type Libbpf } from './libbpf.ts';

export const MAP_NAMES = ['vg_services', 'vg_backends', 'vg_rings', 'vg_flows', 'vg_reverse', 'vg_deny_sources', 'vg_allowed_sources', 'vg_counters', 'vg_config', 'vg_stats', 'vg_ifaces', 'vg_icmp_limit', 'vg_icmp_state'] as const;
export type MapName = (typeof MAP_NAMES)[number];
export const PROGRAM_NAME = 'vipgate_xdp';
/** The kernel keeps this much of a map's name (BPF_OBJ_NAME_LEN - 1). */
const KERNEL_NAME_LENGTH = 15;

export interface InstalledService {
  readonly value: ServiceValue;
  /** Hex keys of this slot's vg_allowed_sources entries. */
  readonly allowed: ReadonlySet<string>;
  frontendKey: string | undefined;
}

/** What the maps hold, as far as this process knows (read back at start and on resync). */
export interface Installed {
  readonly services: Map<string, InstalledService>; // service key hex → entry
  readonly backends: Map<string, number>; // `slot/backend id` → index in vg_backends
  readonly deny: Set<string>; // lpm key hex
  config: string | undefined;
}

/**
 * Maps of our program already attached to one of the interfaces, when they are not pinned
 * under pinDir: a bpffs that did not outlive the last agent (a private mount namespace, as
 * `ip netns exec` gives, or a container without a host bpffs) must not cost the connection
 * table. Empty when the pins are there (libbpf reuses those) or nothing is attached.
 */
export function runningMaps(lib: Libbpf, interfaces: readonly string[], pinDir: string): Map<string, number> {
  const out = new Map<string, number>();
  if (MAP_NAMES.every((n) => existsSync(join(pinDir, n)))) return out;
  for (const name of interfaces) {
    let ifindex: number;
    try {
      ifindex = lib.ifIndex(name);
    } catch {
      continue; // attach() reports a missing interface
    }
    for (const flags of [XDP_FLAGS.skbMode, XDP_FLAGS.drvMode]) {
      const id = lib.xdpQueryId(ifindex, flags);
      if (id === 0) continue;
      const prog = lib.programMaps(id);
      for (const m of prog.maps) {
        const ours = prog.name === PROGRAM_NAME ? MAP_NAMES.find((n) => n.slice(0, KERNEL_NAME_LENGTH) === m.name) : undefined;
        if (ours === undefined || out.has(ours)) lib.closeFd(m.fd);
        else out.set(ours, m.fd);
      }
      if (out.size > 0) return out;
    }
  }
  return out;
}

/** Reads the maps back: after a restart they hold the previous agent's state, still serving. */
/**
 * Below this many known backends a resync reads them one by one (~2 µs each) instead of the
 * whole 131,072-entry array (~50 ms).
 */
const SPARSE_READ_LIMIT = 8192;

/** `known`: the backends this process believes are installed (resync), or undefined (start). */
export function readInstalled(lib: Libbpf, fd: (name: MapName) => number, known?: ReadonlyMap<string, number>): { installed: Installed; usedSlots: Set<number>; usedIndices: Set<number> } {
  const services = new Map<string, InstalledService>();
  const allowedBySlot = new Map<number, Set<string>>();
  // LPM tries have no batch lookup; they hold only source ranges, so key by key is cheap.
  for (let k = lib.mapNextKey(fd('vg_allowed_sources'), undefined, LAYOUTS.allowKey.size); k !== undefined; k = lib.mapNextKey(fd('vg_allowed_sources'), k, LAYOUTS.allowKey.size)) {
    const slot = Buffer.from(k).readUInt32BE(LAYOUTS.allowKey.fields.slot.offset);
    const set = allowedBySlot.get(slot) ?? new Set<string>();
    set.add(toHex(k));
    allowedBySlot.set(slot, set);
  }
  const svc = lib.mapLookupAll(fd('vg_services'), LAYOUTS.serviceKey.size, LAYOUTS.service.size, 4096);
  for (let i = 0; i < svc.count; i++) {
    const k = svc.keys.subarray(i * LAYOUTS.serviceKey.size, (i + 1) * LAYOUTS.serviceKey.size);
    const value = decodeService(svc.values.subarray(i * LAYOUTS.service.size, (i + 1) * LAYOUTS.service.size));
    services.set(toHex(k), { value, allowed: allowedBySlot.get(value.slot) ?? new Set(), frontendKey: undefined });
  }
  const backends = new Map<string, number>();
  const used = new Set<number>();
  const keep = (i: number, raw: Uint8Array): void => {
    const b = decodeBackend(raw);
    if (b?.present !== true) return;
    backends.set(`${b.slot}/${backendId(b.address, b.port)}`, i);
    used.add(i);
  };
  if (known !== undefined && known.size < SPARSE_READ_LIMIT) {
    // Resync: only the entries rings can point at. An entry written by hand at a free index is
    // harmless (no ring refers to it) and is overwritten when the index is next allocated.
    for (const i of known.values()) {
      const raw = lib.mapLookup(fd('vg_backends'), encodeU32(i), LAYOUTS.backend.size);
      if (raw !== undefined) keep(i, raw);
    }
  } else {
    // The whole array in a few batch syscalls (an array has no "next used entry").
    const all = lib.mapLookupAll(fd('vg_backends'), 4, LAYOUTS.backend.size, 32_768);
    const familyAt = LAYOUTS.backend.fields.family.offset;
    for (let n = 0; n < all.count; n++) {
      const base = n * LAYOUTS.backend.size;
      const family = all.values[base + familyAt];
      if (family !== 4 && family !== 6) continue; // never written or cleared: skip the decode
      keep(decodeU32(all.keys.subarray(n * 4, n * 4 + 4)), all.values.subarray(base, base + LAYOUTS.backend.size));
    }
  }
  const deny = new Set<string>();
  for (let k = lib.mapNextKey(fd('vg_deny_sources'), undefined, LAYOUTS.lpmKey.size); k !== undefined; k = lib.mapNextKey(fd('vg_deny_sources'), k, LAYOUTS.lpmKey.size)) deny.add(toHex(k));
  const usedSlots = new Set([...services.values()].map((s) => s.value.slot));
  const config = lib.mapLookup(fd('vg_config'), encodeU32(0), LAYOUTS.config.size);
  return { installed: { services, backends, deny, config: config === undefined ? undefined : toHex(config) }, usedSlots, usedIndices: used };
}

/**
 * `frontends` as the kernel holds them now: each one's vg_services entry, the vg_backends
 * entries of its slot (at the indices this process knows of, each read from the map), and
 * whether a program named vipgate_xdp is attached to each interface.
 */
export function readBackFrontends(
  lib: Libbpf,
  fd: (name: MapName) => number,
  backendIndices: ReadonlyMap<string, number>,
  attachments: readonly { readonly interface: string; readonly mode: 'native' | 'generic' }[],
  frontends: readonly Frontend[],
): Map<string, FrontendReadBack> {
  const program = attachments.map((a) => {
    const id = lib.xdpQueryId(lib.ifIndex(a.interface), a.mode === 'native' ? XDP_FLAGS.drvMode : XDP_FLAGS.skbMode);
    if (id === 0) return { interface: a.interface, attached: false };
    const prog = lib.programMaps(id);
    for (const m of prog.maps) lib.closeFd(m.fd);
    return { interface: a.interface, attached: prog.name === PROGRAM_NAME };
  });
  const out = new Map<string, FrontendReadBack>();
  for (const f of frontends) {
    const where = `vg_services entry ${f.key}`;
    const raw = lib.mapLookup(fd('vg_services'), encodeServiceKey({ address: f.address, port: f.port, protocol: f.protocol }), LAYOUTS.service.size);
    if (raw === undefined) {
      out.set(f.key, { present: false, takesNewFlows: false, backends: 0, where, program });
      continue;
    }
    const value = decodeService(raw);
    let backends = 0;
    for (const [id, index] of backendIndices) {
      if (!id.startsWith(`${value.slot}/`)) continue;
      const b = lib.mapLookup(fd('vg_backends'), encodeU32(index), LAYOUTS.backend.size);
      const decoded = b === undefined ? undefined : decodeBackend(b);
      if (decoded?.present === true && decoded.slot === value.slot) backends++;
    }
    out.set(f.key, { present: true, takesNewFlows: value.ringSize > 0, backends, where: `${where} (slot ${value.slot})`, program });
  }
  return out;
}
