// One pass over the frontends into the maps: slots, backends, rings (in batches, each before its
// service keys), service keys, then what left the table. A full pass after a read-back; later
// passes only over frontends that differ from the one last written for their key.
import type { Frontend, ServiceTable } from '../../model/index.ts';
import { backendId, desiredService, ringDigest, sameFrontend, toHex, type DesiredService } from './desired.ts';
import type { FreeList } from './free-list.ts';
import { LAYOUTS, encodeAllowKey, encodeBackend, encodeService, encodeU32, type ServiceValue } from './layout.ts';
import type { Libbpf } from './libbpf.ts';
import type { Installed, InstalledService, MapName } from './readback.ts';
import { RING_BATCH, fillRing, swapRingsFallingBack, type PendingRing, type RingFill } from './rings.ts';

export interface AppliedFrontend {
  readonly frontend: Frontend;
  readonly keyHex: string;
}

export interface PassContext {
  readonly lib: Libbpf;
  readonly fd: (name: MapName) => number;
  readonly cpus: number;
  /** What the maps hold; updated as entries are written. */
  readonly state: Installed;
  /** frontend key → the frontend last written for it; empty until a pass wrote the whole table. */
  readonly applied: Map<string, AppliedFrontend>;
  readonly slots: FreeList;
  readonly indices: FreeList;
  /** How fresh rings are filled; becomes 'batch' for good when the kernel refuses mmapable rings. */
  readonly rings: { fill: RingFill };
}

export interface PassResult {
  readonly changed: boolean;
  readonly written: number;
  readonly removed: number;
}

export function writeFrontends(ctx: PassContext, table: ServiceTable, fullPass: boolean): PassResult {
  const state = ctx.state;
  const tableKeys = new Set<string>();
  const todo: DesiredService[] = [];
  for (const f of table.frontends) {
    tableKeys.add(f.key);
    if (fullPass || !sameFrontend(ctx.applied.get(f.key)?.frontend, f)) todo.push(desiredService(f));
  }
  let written = 0;
  let removed = 0;
  let changed = false;

  // Slots first (new services get theirs now), then backends: rings refer to their indices.
  const slotOf = new Map<string, number>();
  for (const d of todo) slotOf.set(d.keyHex, state.services.get(d.keyHex)?.value.slot ?? ctx.slots.take());
  const wantedBackends = new Map<string, { address: string; port: number; slot: number }>();
  for (const d of todo) {
    const slot = slotOf.get(d.keyHex)!;
    for (const b of d.frontend.backends) wantedBackends.set(`${slot}/${backendId(b.address, b.port)}`, { address: b.address, port: b.port, slot });
  }
  const fresh: { index: number; value: Uint8Array }[] = [];
  for (const [id, b] of wantedBackends) {
    if (state.backends.has(id)) continue;
    const index = ctx.indices.take();
    fresh.push({ index, value: encodeBackend({ ...b, present: true }) });
    state.backends.set(id, index);
  }
  // A cold pass adds 100,000 of them: one syscall per 1,024, not one each.
  for (let start = 0; start < fresh.length; start += RING_BATCH) writeBatch(ctx.lib, ctx.fd('vg_backends'), fresh.slice(start, start + RING_BATCH), LAYOUTS.backend.size);
  if (fresh.length > 0) changed = true;

  // Backends a changed frontend had: cleared below unless still wanted (incremental passes).
  const candidates: string[] = [];
  if (!fullPass) {
    for (const d of todo) {
      const before = ctx.applied.get(d.frontend.key);
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
        if (current === undefined) ctx.lib.mapUpdate(ctx.fd('vg_counters'), encodeU32(slot), new Uint8Array(LAYOUTS.counters.size * ctx.cpus));
        const allowed = new Map((d.allowedSources ?? []).map((c) => {
          const k = encodeAllowKey(slot, c);
          return [toHex(k), k] as const;
        }));
        for (const [hex, k] of allowed) if (current?.allowed.has(hex) !== true) ctx.lib.mapUpdate(ctx.fd('vg_allowed_sources'), k, new Uint8Array([1]));
        for (const hex of current?.allowed ?? []) if (!allowed.has(hex)) ctx.lib.mapDelete(ctx.fd('vg_allowed_sources'), Buffer.from(hex, 'hex'));
        const digest = d.ringSize === 0 ? 0n : ringDigest(d.ringSize, d.ringInput.map((e) => ({ ...e, index: state.backends.get(`${slot}/${e.id}`)! })));
        // A service left without a ring keeps its old inner map until the slot gets a new
        // one: ring_size 0 already stops the program reading it, and a delete would cost a
        // grace period of its own.
        if (d.ringSize !== 0 && (current?.value.ringHash !== digest || current.value.ringSize !== d.ringSize)) pending.push(fillRing(ctx.lib, slot, d, state.backends, ctx.rings.fill));
        const value: ServiceValue = { slot, ringSize: d.ringSize, flags: d.flags, ringHash: digest };
        const sameAllowed = current !== undefined && current.allowed.size === allowed.size && [...allowed.keys()].every((h) => current.allowed.has(h));
        values.push({ d, value, write: current === undefined || !sameValue(current.value, value) || !sameAllowed, allowed: new Set(allowed.keys()) });
      }
      // A smaller ring is visible from the swap on (and the swap waits a grace period) while the
      // service entry still has the old size: a position past the new ring's end would miss and
      // drop the new flow. So the entry first takes the smaller size, with the old digest (an
      // agent restarted in between rewrites the ring): a position then fits either ring.
      for (const { d, value } of values) {
        const current = state.services.get(d.keyHex);
        if (current !== undefined && value.ringSize > 0 && value.ringSize < current.value.ringSize) {
          ctx.lib.mapUpdate(ctx.fd('vg_services'), d.key, encodeService({ ...current.value, ringSize: value.ringSize }));
        }
      }
      ctx.rings.fill = swapRingsFallingBack(ctx.lib, ctx.fd('vg_rings'), pending, ctx.rings.fill, state.backends);
    } finally {
      for (const p of pending) if (p.fd >= 0) ctx.lib.closeFd(p.fd);
    }
    for (const { d, value, write, allowed } of values) {
      if (write) {
        ctx.lib.mapUpdate(ctx.fd('vg_services'), d.key, encodeService(value));
        written++;
      }
      state.services.set(d.keyHex, { value, allowed, frontendKey: d.frontend.key });
      ctx.applied.set(d.frontend.key, { frontend: d.frontend, keyHex: d.keyHex });
    }
  }

  // Services gone: in a full pass every installed key not wanted, else the keys last written
  // that left the table. Backends that may have lost their service go to `candidates`.
  if (fullPass) {
    const wantedKeys = new Set(todo.map((d) => d.keyHex));
    for (const [hex, current] of state.services) {
      if (wantedKeys.has(hex)) continue;
      removeService(ctx, hex, current);
      removed++;
    }
  }
  for (const [key, a] of ctx.applied) {
    if (tableKeys.has(key)) continue;
    ctx.applied.delete(key);
    const current = state.services.get(a.keyHex);
    if (current === undefined) continue;
    for (const b of a.frontend.backends) candidates.push(`${current.value.slot}/${backendId(b.address, b.port)}`);
    removeService(ctx, a.keyHex, current);
    removed++;
  }
  // Backends last: a cleared entry sends its pinned flows back to the ring; its index is
  // reused only after every fresh one, so a stale flow entry rarely meets a new backend.
  for (const id of fullPass ? [...state.backends.keys()] : candidates) {
    const index = state.backends.get(id);
    if (index === undefined || wantedBackends.has(id)) continue;
    ctx.lib.mapUpdate(ctx.fd('vg_backends'), encodeU32(index), new Uint8Array(LAYOUTS.backend.size));
    state.backends.delete(id);
    ctx.indices.release(index);
    changed = true;
  }
  return { changed, written, removed };
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

function removeService(ctx: PassContext, hex: string, current: InstalledService): void {
  ctx.lib.mapDelete(ctx.fd('vg_services'), Buffer.from(hex, 'hex'));
  // The ring stays with the freed slot: the service key was the only way to it, the next
  // service on that slot swaps in its own before its key, and a delete would wait a grace period.
  for (const a of current.allowed) ctx.lib.mapDelete(ctx.fd('vg_allowed_sources'), Buffer.from(a, 'hex'));
  ctx.slots.release(current.value.slot);
  ctx.state.services.delete(hex);
}

export function sameValue(a: ServiceValue, b: ServiceValue): boolean {
  return a.slot === b.slot && a.ringSize === b.ringSize && a.flags === b.flags && a.ringHash === b.ringHash;
}
