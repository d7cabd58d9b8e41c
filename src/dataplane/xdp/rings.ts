// Maglev rings into vg_rings (array-of-maps): each ring is a fresh inner map, filled while no
// packet can see it, then swapped in. Packets see the old ring or the new one, never half.
import type { DesiredService } from './desired.ts';
import { encodeU32 } from './layout.ts';
import { BPF_F_INNER_MAP, MAP_TYPES, type Libbpf } from './libbpf.ts';
import { maglevTable } from './maglev.ts';

/**
 * Rings swapped in per vg_rings batch update. The kernel waits for one RCU grace period per
 * update of a map-in-map (~11 ms on the lab VM), and since Linux 6.7 once per batch instead of
 * once per entry; the inner maps of a batch are open fds until the swap, hence the bound.
 */
export const RING_BATCH = 1024;

export interface PendingRing {
  readonly slot: number;
  /** fd of the filled inner map; the caller closes it after the swap. */
  readonly fd: number;
}

/** Builds slot's ring for `d` in a fresh inner map; `indexOf` maps `slot/backend id` to vg_backends. */
export function fillRing(lib: Libbpf, slot: number, d: DesiredService, indexOf: ReadonlyMap<string, number>): PendingRing {
  // vg_backends entries are per service (see vg_backend.slot); the ring refers to this slot's.
  const positions = maglevTable(d.ringInput, d.ringSize);
  const byPosition = d.ringInput.map((e) => indexOf.get(`${slot}/${e.id}`)!);
  const keys = new Uint32Array(d.ringSize);
  const values = new Uint32Array(d.ringSize);
  for (let i = 0; i < d.ringSize; i++) {
    keys[i] = i;
    values[i] = byPosition[positions[i]!]!;
  }
  const fd = lib.mapCreate(MAP_TYPES.array, 'vg_ring', 4, 4, d.ringSize, BPF_F_INNER_MAP);
  try {
    lib.mapUpdateBatch(fd, new Uint8Array(keys.buffer), new Uint8Array(values.buffer), d.ringSize);
  } catch (error) {
    lib.closeFd(fd);
    throw error;
  }
  return { slot, fd };
}

/** Puts every pending ring into vg_rings with one batch update (one grace period, not one each). */
export function swapRings(lib: Libbpf, outerFd: number, pending: readonly PendingRing[]): void {
  if (pending.length === 0) return;
  if (pending.length === 1) {
    lib.mapUpdate(outerFd, encodeU32(pending[0]!.slot), encodeU32(pending[0]!.fd));
    return;
  }
  const keys = new Uint32Array(pending.length);
  const values = new Uint32Array(pending.length);
  pending.forEach((p, i) => {
    keys[i] = p.slot;
    values[i] = p.fd;
  });
  lib.mapUpdateBatch(outerFd, new Uint8Array(keys.buffer), new Uint8Array(values.buffer), pending.length);
}
