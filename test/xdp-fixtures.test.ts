// BPF_PROG_TEST_RUN packet fixtures: input frame → expected frame and verdict, run by the kernel
// on the real program with maps written by xdpDataplane. Root: loads BPF and mounts a private bpffs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Backend, Frontend, ServiceTable } from '../src/model/index.ts';
import { frontendKey } from '../src/model/index.ts';
import { webFrontend } from './support/frontends.ts';
import { xdpDataplane, type XdpDataplane } from '../src/dataplane/xdp/index.ts';
import { destination, packet, sourcePort, type PacketSpec } from './support/xdp-packets.ts';
import { mountPrivateBpffs, type PrivateBpffs } from './support/bpffs.ts';
import { execFileSync } from 'node:child_process';
import { encodeServiceKey } from '../src/dataplane/xdp/layout.ts';

const LB = { v4: '10.180.1.16', v6: 'fd00:180:1::16' };
const CLIENT = { v4: '10.0.1.2', v6: 'fd00:1::2' };
const VIP = { v4: '10.200.0.5', v6: 'fd00:200::5' };
const POD = { v4: '10.100.1.41', v6: 'fd00:100:1::41' };

function backend(address: string, weight = 1, state: Backend['state'] = 'ready'): Backend {
  return { address, port: 8080, weight, state };
}

const frontend = webFrontend;

function baseTable(): ServiceTable {
  const frontends: Frontend[] = [];
  for (const fam of ['v4', 'v6'] as const) {
    for (const proto of ['tcp', 'udp'] as const) frontends.push(frontend(VIP[fam], proto, [backend(POD[fam])]));
  }
  // Only 10.0.1.0/24 may reach this one.
  frontends.push(frontend('10.200.0.6', 'tcp', [backend(POD.v4)], { allowedSources: ['10.0.1.0/24'] }));
  return { frontends, denySources: ['10.180.1.0/24', 'fd00:180:1::/64'] };
}

let bpffs: PrivateBpffs;
let dp: XdpDataplane;

before(async () => {
  bpffs = mountPrivateBpffs();
  // No interfaces and no FIB: the program only rewrites; verdicts for forwarding are PASS.
  dp = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir: join(bpffs.dir, 'vipgate'), snatAddresses: LB, fib: false });
  await dp.apply(baseTable());
});

after(async () => {
  try {
    await dp.cleanup();
  } finally {
    bpffs.unmount();
  }
});

function run(spec: PacketSpec): { verdict: string; out: Uint8Array; input: Uint8Array } {
  const input = packet(spec);
  const { verdict, packet: out } = dp.testRun(input);
  return { verdict, out, input };
}

let clientPort = 40_000;

for (const fam of ['v4', 'v6'] as const) {
  for (const protocol of ['tcp', 'udp'] as const) {
    test(`${fam} ${protocol}: DNAT+SNAT to the pod, and the pod's reply comes back from the VIP`, () => {
      const sport = clientPort++;
      const fwd = run({ src: CLIENT[fam], dst: VIP[fam], sport, dport: 80, protocol });
      assert.equal(fwd.verdict, 'XDP_PASS');
      const snatPort = sourcePort(fwd.out);
      assert.ok(snatPort >= 1024 && snatPort <= 32_767, `SNAT port ${snatPort} in the default range, below the kernel's ephemeral ports`);
      // Whole frame equal to one built from scratch: addresses, ports and both checksums.
      assert.deepEqual(fwd.out, packet({ src: LB[fam], dst: POD[fam], sport: snatPort, dport: 8080, protocol }));

      const back = run({ src: POD[fam], dst: LB[fam], sport: 8080, dport: snatPort, protocol, tcpFlags: 0x12 });
      assert.equal(back.verdict, 'XDP_PASS');
      assert.deepEqual(back.out, packet({ src: VIP[fam], dst: CLIENT[fam], sport: 80, dport: sport, protocol, tcpFlags: 0x12 }));

      // The next packet of the flow keeps its SNAT port.
      const again = run({ src: CLIENT[fam], dst: VIP[fam], sport, dport: 80, protocol, tcpFlags: 0x10 });
      assert.equal(sourcePort(again.out), snatPort);
    });
  }
}

test('VLAN-tagged VIP traffic is translated behind its tag', () => {
  const r = run({ src: CLIENT.v4, dst: VIP.v4, sport: 41_000, dport: 80, protocol: 'tcp', vlan: 7 });
  assert.equal(r.verdict, 'XDP_PASS');
  assert.deepEqual([...r.out.subarray(34, 38)], [10, 100, 1, 41], 'destination is the pod, past the 4-byte tag');
});

test('traffic not for a VIP passes untouched: other address, unknown port, other protocol', () => {
  for (const spec of [
    { src: CLIENT.v4, dst: '10.0.1.1', sport: 40_000, dport: 80, protocol: 'tcp' },
    { src: CLIENT.v4, dst: VIP.v4, sport: 40_000, dport: 81, protocol: 'tcp' },
    { src: CLIENT.v6, dst: VIP.v6, sport: 40_000, dport: 443, protocol: 'udp' },
  ] as const) {
    const r = run(spec);
    assert.equal(r.verdict, 'XDP_PASS', `${spec.dst}:${spec.dport}`);
    assert.deepEqual(r.out, r.input);
  }
});

test('denied sources (cluster nodes) and sources outside loadBalancerSourceRanges are dropped', () => {
  assert.equal(run({ src: '10.180.1.21', dst: VIP.v4, sport: 40_000, dport: 80, protocol: 'tcp' }).verdict, 'XDP_DROP');
  assert.equal(run({ src: 'fd00:180:1::21', dst: VIP.v6, sport: 40_000, dport: 80, protocol: 'udp' }).verdict, 'XDP_DROP');
  assert.equal(run({ src: '10.0.2.9', dst: '10.200.0.6', sport: 40_000, dport: 80, protocol: 'tcp' }).verdict, 'XDP_DROP');
  const inside = run({ src: CLIENT.v4, dst: '10.200.0.6', sport: 40_000, dport: 80, protocol: 'tcp' });
  assert.equal(inside.verdict, 'XDP_PASS');
  assert.equal(destination(inside.out), POD.v4);
});

test('policy is decided when a flow starts: a source denied later keeps its open flow, its new flows are dropped', async () => {
  const open = { src: '10.0.7.7', dst: VIP.v4, sport: 41_000, dport: 80, protocol: 'tcp' } as const;
  assert.equal(run(open).verdict, 'XDP_PASS', 'admitted before the deny list names it');
  await dp.apply({ ...baseTable(), denySources: [...baseTable().denySources, '10.0.7.0/24'] });
  try {
    const again = run(open);
    assert.equal(again.verdict, 'XDP_PASS', 'the open flow goes on (as with the nftables engine)');
    assert.equal(destination(again.out), POD.v4);
    assert.equal(run({ ...open, sport: 41_001 }).verdict, 'XDP_DROP', 'a new flow from the denied source');
  } finally {
    await dp.apply(baseTable());
  }
});

test('truncated and malformed headers: never out of bounds, passed to the kernel unchanged', () => {
  for (const fam of ['v4', 'v6'] as const) {
    const full = packet({ src: CLIENT[fam], dst: VIP[fam], sport: 40_001, dport: 80, protocol: 'tcp' });
    const headers = 14 + (fam === 'v4' ? 20 : 40) + 20;
    for (let length = 0; length < headers; length++) {
      const input = full.slice(0, length);
      if (input.length < 14) continue; // the kernel refuses test runs shorter than an Ethernet header
      const { verdict, packet: out } = dp.testRun(input);
      assert.equal(verdict, 'XDP_PASS', `${fam} cut at ${length}`);
      assert.deepEqual(out, input);
    }
  }
  const bad = packet({ src: CLIENT.v4, dst: VIP.v4, sport: 40_002, dport: 80, protocol: 'tcp' });
  bad[14] = 0x44; // IHL 4: shorter than the fixed header
  assert.equal(dp.testRun(bad).verdict, 'XDP_PASS');
  const frag = packet({ src: CLIENT.v4, dst: VIP.v4, sport: 40_003, dport: 80, protocol: 'udp' });
  frag[20] = 0x20; // more fragments
  assert.deepEqual(dp.testRun(frag).packet, frag);
});

test('an established flow keeps its backend when the ring changes; it moves only when its backend is gone', async () => {
  const other = '10.100.1.42';
  const flow = { src: CLIENT.v4, dst: VIP.v4, sport: 45_000, dport: 80, protocol: 'tcp' } as const;
  assert.equal(destination(run(flow).out), POD.v4);
  const withOther = (state: Backend['state']): ServiceTable => {
    const t = baseTable();
    return { ...t, frontends: t.frontends.map((f) => (f.key === frontendKey(VIP.v4, 80, 'tcp') ? { ...f, backends: [backend(POD.v4, 1, state), backend(other, 1000)] } : f)) };
  };
  const report = await dp.apply(withOther('ready'));
  assert.equal(report.frontendsWritten, 1, 'one backend change touches one frontend');
  assert.equal(destination(run({ ...flow, tcpFlags: 0x10 }).out), POD.v4, 'established flow stays');
  assert.equal(destination(run({ ...flow, sport: 45_001 }).out), other, 'a new flow follows the new ring (weight 1000:1)');
  await dp.apply(withOther('terminating'));
  assert.equal(destination(run({ ...flow, tcpFlags: 0x10 }).out), POD.v4, 'terminating backend drains its flows');
  const gone = baseTable();
  await dp.apply({ ...gone, frontends: gone.frontends.map((f) => (f.key === frontendKey(VIP.v4, 80, 'tcp') ? { ...f, backends: [backend(other)] } : f)) });
  assert.equal(destination(run({ ...flow, tcpFlags: 0x10 }).out), other, 'removed backend: the flow is re-chosen');
  await dp.apply(baseTable());
});

test('a frontend with no ready backend drops new flows; counters count what the VIP received', async () => {
  const t = baseTable();
  await dp.apply({ ...t, frontends: t.frontends.map((f) => (f.key === frontendKey(VIP.v6, 80, 'udp') ? { ...f, backends: [] } : f)) });
  assert.equal(run({ src: CLIENT.v6, dst: VIP.v6, sport: 46_000, dport: 80, protocol: 'udp' }).verdict, 'XDP_DROP');
  await dp.apply(t);
  const counters = await dp.counters();
  const v4tcp = counters.get(frontendKey(VIP.v4, 80, 'tcp'));
  assert.ok(v4tcp !== undefined && v4tcp.packets >= 3n, `v4 tcp counters: ${v4tcp?.packets}`);
  assert.ok(v4tcp.bytes >= v4tcp.packets * 40n);
});

test('apply is idempotent: the same table again writes nothing', async () => {
  const report = await dp.apply(baseTable());
  assert.equal(report.changed, false);
  assert.equal(report.frontendsWritten, 0);
});

test('a resync that finds what was applied reports no change and keeps every flow', async () => {
  const flow = { src: CLIENT.v4, dst: VIP.v4, sport: 47_000, dport: 80, protocol: 'tcp' } as const;
  const first = sourcePort(run(flow).out);
  const report = await dp.apply(baseTable(), { resync: true });
  assert.deepEqual({ changed: report.changed, written: report.frontendsWritten, drift: report.driftRepaired }, { changed: false, written: 0, drift: false });
  assert.equal(sourcePort(run({ ...flow, tcpFlags: 0x10 }).out), first);
});

test('readBack reads the kernel: an entry deleted by hand is missing until a resync puts it back', async () => {
  const t = baseTable();
  const v4tcp = t.frontends.find((f) => f.key === frontendKey(VIP.v4, 80, 'tcp'))!;
  const before = (await dp.readBack([v4tcp])).get(v4tcp.key);
  assert.deepEqual({ ...before, where: undefined }, { present: true, takesNewFlows: true, backends: 1, where: undefined, program: [] });
  const key = [...encodeServiceKey({ address: VIP.v4, port: 80, protocol: 'tcp' })].map((b) => b.toString(16).padStart(2, '0'));
  execFileSync('bpftool', ['map', 'delete', 'pinned', join(bpffs.dir, 'vipgate', 'vg_services'), 'key', 'hex', ...key]);
  assert.equal((await dp.readBack([v4tcp])).get(v4tcp.key)?.present, false);
  await dp.apply(t, { resync: true });
  assert.equal((await dp.readBack([v4tcp])).get(v4tcp.key)?.present, true);
});

test('vg_stats counts drops and kernel hand-overs', () => {
  const before = dp.stats();
  run({ src: '10.180.1.21', dst: VIP.v4, sport: 48_000, dport: 80, protocol: 'tcp' });
  run({ src: CLIENT.v4, dst: VIP.v4, sport: 48_001, dport: 80, protocol: 'tcp' });
  const after = dp.stats();
  assert.equal(after.dropped - before.dropped, 1n, 'the denied source');
  assert.equal(after.kernelFib - before.kernelFib, 1n, 'fib: false hands the translated packet to the kernel');
  assert.equal(after.forwarded, 0n);
});

test('a SNAT port is reused by another client flow only after its own flow ended (FIN/RST)', async () => {
  // One SNAT port in all: the second flow must wait for the first to end.
  const dir = join(bpffs.dir, 'one-port');
  const one = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir: dir, snatAddresses: LB, snatPorts: { min: 61_000, max: 61_000 }, fib: false });
  try {
    await one.apply(baseTable());
    const a = { src: CLIENT.v4, dst: VIP.v4, sport: 49_000, dport: 80, protocol: 'tcp', tcpFlags: 0x02 } as const;
    const b = { ...a, sport: 49_001 };
    assert.equal(sourcePort(one.testRun(packet(a)).packet), 61_000);
    assert.equal(one.testRun(packet(b)).verdict, 'XDP_DROP', 'the port is held by a live flow');
    // The pod ends the first flow (FIN); the port is free about two seconds later.
    one.testRun(packet({ src: POD.v4, dst: LB.v4, sport: 8080, dport: 61_000, protocol: 'tcp', tcpFlags: 0x11 }));
    assert.equal(one.testRun(packet(b)).verdict, 'XDP_DROP', 'reused at once: the last ACK of the old flow would reach the new client');
    await new Promise((r) => setTimeout(r, 2300));
    const reused = one.testRun(packet(b));
    assert.equal(reused.verdict, 'XDP_PASS');
    assert.equal(sourcePort(reused.packet), 61_000);
    const reply = one.testRun(packet({ src: POD.v4, dst: LB.v4, sport: 8080, dport: 61_000, protocol: 'tcp', tcpFlags: 0x12 }));
    assert.equal(destination(reply.packet), CLIENT.v4);
    assert.deepEqual([...reply.packet.subarray(36, 38)], [49_001 >> 8, 49_001 & 0xff], 'the reply goes to the new flow');
  } finally {
    await one.cleanup();
  }
});
