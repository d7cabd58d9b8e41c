// Maglev rings into vg_rings (array-of-maps): each ring is a fresh inner map, filled while no
// packet can see it, then swapped in. Packets see the old ring or the new one, never half.
import type { DesiredService } from './desired.ts';
import { XdpError } from './errors.ts';
import { encodeU32 } from './layout.ts';
import { BPF_F_INNER_MAP, BPF_F_MMAPABLE, MAP_TYPES, type Libbpf } from './libbpf.ts';
import { maglevTable } from './maglev.ts';

/**
 * Rings swapped in per vg_rings batch update. The kernel waits for one RCU grace period per
 * update of a map-in-map (~11 ms on the lab VM), and since Linux 6.7 once per batch instead of
 * once per entry; the inner maps of a batch are open fds until the swap, hence the bound.
 */
export const RING_BATCH = 1024;

/**
 * How a fresh ring is filled. `mmap`: the object's inner-map template is BPF_F_MMAPABLE and the
 * ring is written through a shared mapping. `batch`: one update-batch call (a kernel step per
 * entry), for a vg_rings pinned by an older object whose template lacks the flag (the kernel
 * refuses inner maps whose flags differ from the template).
 */
export type RingFill = 'mmap' | 'batch';

/** Array maps keep each value in 8 bytes (round_up(value_size, 8)): the stride of a mapping. */
const MMAP_STRIDE_U32 = 2;

export interface PendingRing {
  readonly slot: number;
  readonly d: DesiredService;
  /** fd of the filled inner map; the caller closes it after the swap. */
  readonly fd: number;
}

/** Builds slot's ring for `d` in a fresh inner map; `indexOf` maps `slot/backend id` to vg_backends. */
export function fillRing(lib: Libbpf, slot: number, d: DesiredService, indexOf: ReadonlyMap<string, number>, fill: RingFill): PendingRing {
  // vg_backends entries are per service (see vg_backend.slot); the ring refers to this slot's.
  const positions = maglevTable(d.ringInput, d.ringSize);
  const byPosition = d.ringInput.map((e) => indexOf.get(`${slot}/${e.id}`)!);
  const stride = fill === 'mmap' ? MMAP_STRIDE_U32 : 1;
  const values = new Uint32Array(d.ringSize * stride);
  for (let i = 0; i < d.ringSize; i++) values[i * stride] = byPosition[positions[i]!]!;
  const fd = lib.mapCreate(MAP_TYPES.array, 'vg_ring', 4, 4, d.ringSize, BPF_F_INNER_MAP | (fill === 'mmap' ? BPF_F_MMAPABLE : 0));
  try {
    if (fill === 'mmap') lib.mapWriteMmap(fd, new Uint8Array(values.buffer));
    else lib.mapUpdateBatch(fd, new Uint8Array(Uint32Array.from({ length: d.ringSize }, (_, i) => i).buffer), new Uint8Array(values.buffer), d.ringSize);
  } catch (error) {
    lib.closeFd(fd);
    throw error;
  }
  return { slot, d, fd };
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

const EINVAL = 22;

/**
 * swapRings, and when the kernel refuses `mmap` rings with EINVAL (vg_rings pinned by an older
 * object, whose inner-map template has other flags) the same rings again filled by `batch`.
 * `pending` is updated in place (the caller closes its fds); returns the fill that worked.
 */
export function swapRingsFallingBack(lib: Libbpf, outerFd: number, pending: PendingRing[], fill: RingFill, indexOf: ReadonlyMap<string, number>): RingFill {
  try {
    swapRings(lib, outerFd, pending);
    return fill;
  } catch (error) {
    if (fill !== 'mmap' || !(error instanceof XdpError) || error.errno !== EINVAL) throw error;
  }
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    lib.closeFd(p.fd);
    pending[i] = { ...p, fd: -1 };
    pending[i] = fillRing(lib, p.slot, p.d, indexOf, 'batch');
  }
  swapRings(lib, outerFd, pending);
  return 'batch';
}
