// The XDP control plane against the kernel: rings are swapped in whole and before their service
// key (recorded at the libbpf boundary), batched per chunk, and incremental applies leave the
// maps exactly as a full pass would (a second dataplane reading them back finds nothing to do).
// Root: loads BPF and mounts a private bpffs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, Frontend, ServiceTable } from '../src/model/index.ts';
import { frontendOf } from './support/frontends.ts';
import { xdpDataplane, type XdpDataplane } from '../src/dataplane/xdp/index.ts';
import { BPF_DIR, clangArgs } from '../src/dataplane/xdp/build.ts';
import { decodeService, decodeU32 } from '../src/dataplane/xdp/layout.ts';
import { loadLibbpf, type Libbpf } from '../src/dataplane/xdp/libbpf.ts';
import { RING_BATCH } from '../src/dataplane/xdp/rings.ts';
import { destination, packet } from './support/xdp-packets.ts';
import { mountPrivateBpffs, type PrivateBpffs } from './support/bpffs.ts';

const SERVICES = RING_BATCH + 76; // two ring batches on the cold pass
const LB = { v4: '10.180.1.16' };

const vip = (i: number): string => `10.201.${i >> 8}.${i & 0xff}`;
const pod = (i: number, j: number): Backend => ({ address: `10.100.${i % 250}.${j + 1}`, port: 8080, weight: 1, state: 'ready' });

const frontend = (i: number, backends: Backend[]): Frontend => frontendOf(vip(i), 80, 'tcp', backends, { service: `bench/svc-${i}`, snat: 'none' });

function table(edit: (i: number, backends: Backend[]) => Backend[] | undefined = (_, b) => b, extra: number[] = []): ServiceTable {
  const frontends: Frontend[] = [];
  for (const i of [...Array.from({ length: SERVICES }, (_, i) => i), ...extra]) {
    const backends = edit(i, [0, 1, 2].map((j) => pod(i, j)));
    if (backends !== undefined) frontends.push(frontend(i, backends));
  }
  return { frontends: frontends.sort((a, b) => (a.key < b.key ? -1 : 1)), denySources: [] };
}

/** What the recorder saw break, and how often vg_rings was written. */
const violations: string[] = [];
let ringWrites = 0;

/**
 * The real libbpf, watched: an inner map may not be written once vg_rings points to it, is
 * swapped in only when every entry is filled, and a service key with a ring is written only
 * after its slot's complete ring is in vg_rings.
 */
function recording(real: Libbpf): Libbpf {
  const names = new Map<number, string>();
  const inner = new Map<number, { size: number; filled: number; visible: boolean }>();
  const ringOf = new Map<number, { size: number; filled: number }>();
  // slot → ring size its service entry says now: every position (hash % size) must be inside the ring.
  const serviceSize = new Map<number, number>();
  const slotOfKey = new Map<string, number>();
  const swap = (slot: number, fd: number): void => {
    const r = inner.get(fd);
    if (r === undefined) violations.push(`slot ${slot}: vg_rings got fd ${fd}, which is no fresh ring`);
    else {
      if (r.filled < r.size) violations.push(`slot ${slot}: ring swapped in with ${r.filled} of ${r.size} entries`);
      if (r.size < (serviceSize.get(slot) ?? 0)) violations.push(`slot ${slot}: ring of ${r.size} swapped in while the service says ${serviceSize.get(slot)}`);
      r.visible = true;
      ringOf.set(slot, { size: r.size, filled: r.filled });
    }
  };
  return {
    ...real,
    openObject(path, pinRoot, reuse) {
      const obj = real.openObject(path, pinRoot, reuse);
      return {
        ...obj,
        reused: obj.reused,
        programFd: (n) => obj.programFd(n),
        close: () => obj.close(),
        mapFd(name) {
          const fd = obj.mapFd(name);
          names.set(fd, name);
          return fd;
        },
      };
    },
    mapCreate(type, name, keySize, valueSize, maxEntries, flags) {
      const fd = real.mapCreate(type, name, keySize, valueSize, maxEntries, flags);
      inner.set(fd, { size: maxEntries, filled: 0, visible: false });
      return fd;
    },
    mapUpdateBatch(fd, keys, values, count) {
      const r = inner.get(fd);
      if (r !== undefined) {
        if (r.visible) violations.push(`a ring was written after vg_rings pointed to it`);
        r.filled += count;
      } else if (names.get(fd) === 'vg_rings') {
        ringWrites++;
        for (let i = 0; i < count; i++) swap(decodeU32(keys.subarray(i * 4, i * 4 + 4)), decodeU32(values.subarray(i * 4, i * 4 + 4)));
      }
      real.mapUpdateBatch(fd, keys, values, count);
    },
    mapWriteMmap(fd, values) {
      const r = inner.get(fd);
      if (r?.visible === true) violations.push('a ring was written after vg_rings pointed to it');
      if (r !== undefined) r.filled += values.length / 8; // array values sit 8 bytes apart
      real.mapWriteMmap(fd, values);
    },
    mapUpdate(fd, key, value) {
      const name = names.get(fd);
      if (inner.get(fd)?.visible === true) violations.push('a ring entry was written after vg_rings pointed to it');
      if (name === 'vg_rings') {
        ringWrites++;
        swap(decodeU32(key), decodeU32(value));
      }
      if (name === 'vg_services') {
        const s = decodeService(value);
        const ring = ringOf.get(s.slot);
        if (s.ringSize > 0 && (ring === undefined || ring.size < s.ringSize || ring.filled < ring.size)) {
          violations.push(`service on slot ${s.slot} (ring ${s.ringSize}) written before a ring that large was in vg_rings`);
        }
        serviceSize.set(s.slot, s.ringSize);
        slotOfKey.set(Buffer.from(key).toString('hex'), s.slot);
      }
      real.mapUpdate(fd, key, value);
    },
    mapDelete(fd, key) {
      if (names.get(fd) === 'vg_services') {
        const slot = slotOfKey.get(Buffer.from(key).toString('hex'));
        if (slot !== undefined) serviceSize.delete(slot);
      }
      return real.mapDelete(fd, key);
    },
    closeFd(fd) {
      inner.delete(fd);
      real.closeFd(fd);
    },
  };
}

let bpffs: PrivateBpffs;
let pinDir: string;
let dp: XdpDataplane;

before(() => {
  bpffs = mountPrivateBpffs('vgtxdp-cp-');
  pinDir = join(bpffs.dir, 'vipgate');
  dp = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir, snatAddresses: LB, fib: false, libbpf: recording(loadLibbpf()) });
});

after(async () => {
  try {
    await dp.cleanup();
  } finally {
    bpffs.unmount();
  }
});

let port = 20_000;
/** Backends new flows to service i reach, over `n` client ports ('' for a packet left alone). */
function picks(i: number, n = 60): Set<string> {
  const seen = new Set<string>();
  for (let k = 0; k < n; k++) {
    const r = dp.testRun(packet({ src: '10.0.1.2', dst: vip(i), sport: port++, dport: 80, protocol: 'tcp' }));
    seen.add(r.verdict === 'XDP_PASS' && destination(r.packet) !== vip(i) ? destination(r.packet) : r.verdict);
  }
  return seen;
}

/** A fresh dataplane on the same pins reads the maps back: nothing to write means they hold `t` exactly. */
async function assertInstalled(t: ServiceTable): Promise<void> {
  const other = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir, snatAddresses: LB, fib: false });
  try {
    const report = await other.apply(t);
    assert.equal(report.changed, false, `the maps differ from a full pass: ${JSON.stringify(report)}`);
  } finally {
    await other.close();
  }
}

test('cold pass: every ring swapped in whole, before its service key, in one vg_rings write per batch', async () => {
  const t = table();
  const report = await dp.apply(t);
  assert.equal(report.frontendsWritten, SERVICES);
  assert.deepEqual(violations, []);
  assert.equal(ringWrites, Math.ceil(SERVICES / RING_BATCH));
  assert.deepEqual(picks(SERVICES - 1), new Set([0, 1, 2].map((j) => pod(SERVICES - 1, j).address)));
  await assertInstalled(t);
});

test('one backend replaced: one frontend and one ring written; new flows never reach the old backend', async () => {
  ringWrites = 0;
  const t = table((i, b) => (i === 5 ? [b[0]!, { ...b[1]!, address: '10.99.0.1' }, b[2]!] : b));
  const report = await dp.apply(t);
  assert.deepEqual([report.frontendsWritten, report.frontendsRemoved, ringWrites], [1, 0, 1]);
  assert.deepEqual(violations, []);
  assert.deepEqual(picks(5), new Set([pod(5, 0).address, '10.99.0.1', pod(5, 2).address]));
  await assertInstalled(t);
});

test('services removed and added incrementally: removed VIPs pass untouched, the new one is served', async () => {
  const t = table((i, b) => (i >= 10 && i < 20 ? undefined : i === 5 ? [b[0]!, { ...b[1]!, address: '10.99.0.1' }, b[2]!] : b), [SERVICES + 3]);
  const report = await dp.apply(t);
  assert.deepEqual([report.frontendsWritten, report.frontendsRemoved], [1, 10]);
  assert.deepEqual(violations, []);
  assert.deepEqual(picks(12, 3), new Set(['XDP_PASS']));
  assert.deepEqual(picks(SERVICES + 3), new Set([0, 1, 2].map((j) => pod(SERVICES + 3, j).address)));
  await assertInstalled(t);
});

test('a service with no ready backend drops new flows, and is served again when one returns', async () => {
  // On top of the previous test's table.
  const earlier = (i: number, b: Backend[]): Backend[] | undefined => (i >= 10 && i < 20 ? undefined : i === 5 ? [b[0]!, { ...b[1]!, address: '10.99.0.1' }, b[2]!] : b);
  const none = table((i, b) => (i === 7 ? b.map((x) => ({ ...x, state: 'terminating' as const })) : earlier(i, b)), [SERVICES + 3]);
  assert.equal((await dp.apply(none)).frontendsWritten, 1);
  assert.deepEqual(picks(7, 5), new Set(['XDP_DROP']));
  await assertInstalled(none);
  const back = table((i, b) => (i === 7 ? [b[0]!, { ...b[1]!, state: 'terminating' as const }, b[2]!] : earlier(i, b)), [SERVICES + 3]);
  assert.equal((await dp.apply(back)).frontendsWritten, 1);
  assert.deepEqual(violations, []);
  assert.deepEqual(picks(7), new Set([pod(7, 0).address, pod(7, 2).address]));
  await assertInstalled(back);
});

test('a ring that shrinks (a backend fewer) never leaves the service entry pointing past its end', async () => {
  // On top of the previous tests' table; service 9 goes from 3 backends (ring 307) to 2 (ring 211).
  const earlier = (i: number, b: Backend[]): Backend[] | undefined => (i >= 10 && i < 20 ? undefined : i === 5 ? [b[0]!, { ...b[1]!, address: '10.99.0.1' }, b[2]!] : i === 7 ? [b[0]!, { ...b[1]!, state: 'terminating' as const }, b[2]!] : b);
  const fewer = table((i, b) => (i === 9 ? [b[0]!, b[2]!] : earlier(i, b)), [SERVICES + 3]);
  assert.equal((await dp.apply(fewer)).frontendsWritten, 1);
  const back = table(earlier, [SERVICES + 3]);
  assert.equal((await dp.apply(back)).frontendsWritten, 1);
  assert.deepEqual(violations, []);
  assert.deepEqual(picks(9), new Set([0, 1, 2].map((j) => pod(9, j).address)));
  await assertInstalled(back);
});

test('vg_rings pinned by an older object (inner maps not mmapable): rings are filled entry by entry, before and after an upgrade', async () => {
  // The older template, built from the same source; the kernel refuses mmapable rings in its vg_rings.
  const dir = mkdtempSync(join(tmpdir(), 'vgtxdp-old-'));
  const oldObject = join(dir, 'old.o');
  const source = join(BPF_DIR, 'vipgate_xdp.c');
  execFileSync('clang', ['-DVG_RING_FLAGS=BPF_F_INNER_MAP', ...clangArgs(source, oldObject)]);
  const oldPins = join(bpffs.dir, 'old');
  const t = table();
  const changed = table((i, b) => (i === 8 ? [b[0]!, { ...b[2]!, address: '10.99.0.2' }] : b));
  const old = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir: oldPins, snatAddresses: LB, fib: false, objectPath: oldObject });
  let upgraded: XdpDataplane | undefined;
  try {
    assert.equal((await old.apply(t)).frontendsWritten, SERVICES);
    await old.close();
    // The new object on the old pins: libbpf reuses the old vg_rings.
    upgraded = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir: oldPins, snatAddresses: LB, fib: false });
    assert.equal((await upgraded.apply(t)).changed, false);
    assert.equal((await upgraded.apply(changed)).frontendsWritten, 1);
    const seen = new Set<string>();
    for (let k = 0; k < 40; k++) seen.add(destination(upgraded.testRun(packet({ src: '10.0.1.2', dst: vip(8), sport: port++, dport: 80, protocol: 'tcp' })).packet));
    assert.deepEqual(seen, new Set([pod(8, 0).address, '10.99.0.2']));
  } finally {
    await (upgraded ?? old).cleanup();
    rmSync(dir, { recursive: true });
  }
});
