// BPF_PROG_TEST_RUN fixtures for ipip/GUE encapsulation and ICMP path-MTU handling
// (docs/design/006-xdp-encap-icmp.md): input frame → expected frame (built from scratch, every
// checksum computed in full) and verdict. Root: loads BPF and mounts a private bpffs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Frontend, ServiceTable } from '../src/model/index.ts';
import { readyBackend, webFrontend } from './support/frontends.ts';
import { xdpDataplane, type XdpDataplane, type XdpDataplaneOptions } from '../src/dataplane/xdp/index.ts';
import {
  MAC_DST,
  MAC_SRC,
  badChecksums,
  encapsulated,
  flowHash,
  icmpTooBig,
  ipOf,
  packet,
  sourcePort,
  type PacketSpec,
} from './support/xdp-packets.ts';
import { mountPrivateBpffs, type PrivateBpffs } from './support/bpffs.ts';

const LB = { v4: '10.180.1.16', v6: 'fd00:180:1::16' };
const CLIENT = { v4: '10.0.1.2', v6: 'fd00:1::2' };
const VIP = { v4: '10.200.0.5', v6: 'fd00:200::5' };
// In another subnet than the LB: what ipip/gue are for.
const POD = { v4: '10.100.1.41', v6: 'fd00:100:1::41' };
const ROUTER = { v4: '10.0.9.1', v6: 'fd00:9::1' };
const FAMILIES = ['v4', 'v6'] as const;
const PROTOCOLS = ['tcp', 'udp'] as const;

const frontend = (address: string, protocol: 'tcp' | 'udp'): Frontend => webFrontend(address, protocol, [readyBackend(address.includes(':') ? POD.v6 : POD.v4, 8080)]);

const TABLE: ServiceTable = {
  frontends: FAMILIES.flatMap((fam) => PROTOCOLS.map((proto) => frontend(VIP[fam], proto))),
  denySources: [],
};

let bpffs: PrivateBpffs;
const planes: XdpDataplane[] = [];

/** A dataplane of its own (own pinned maps), without interfaces or FIB: forwarded packets come
 * back as XDP_PASS with the frame as the program left it. */
async function plane(name: string, options: Partial<XdpDataplaneOptions>): Promise<XdpDataplane> {
  const dp = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir: join(bpffs.dir, name), snatAddresses: LB, fib: false, ...options });
  planes.push(dp);
  await dp.apply(TABLE);
  return dp;
}

let ipip: XdpDataplane;
let gue: XdpDataplane;
let nat: XdpDataplane;

before(async () => {
  bpffs = mountPrivateBpffs();
  ipip = await plane('ipip', { forwarding: 'ipip' });
  gue = await plane('gue', { forwarding: 'gue', guePort: 5555 });
  nat = await plane('nat', { forwarding: 'nat' });
});

after(async () => {
  try {
    for (const dp of planes) await dp.cleanup();
  } finally {
    bpffs.unmount();
  }
});

let clientPort = 40_000;
const payload = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

for (const mode of ['ipip', 'gue'] as const) {
  for (const fam of FAMILIES) {
    for (const protocol of PROTOCOLS) {
      test(`${mode} ${fam} ${protocol}: the client's packet, unchanged, inside a new outer header to the backend`, () => {
        const dp = mode === 'ipip' ? ipip : gue;
        const sport = clientPort++;
        const input = packet({ src: CLIENT[fam], dst: VIP[fam], sport, dport: 80, protocol });
        const { verdict, packet: out } = dp.testRun(input);
        assert.equal(verdict, 'XDP_PASS', 'fib: false hands the encapsulated packet to the kernel');
        const hash = flowHash(CLIENT[fam], sport, protocol);
        assert.deepEqual(out, encapsulated(input, { mode, src: LB[fam], dst: POD[fam], hash, guePort: 5555 }));
        assert.deepEqual(ipOf(out).subarray(fam === 'v4' ? 20 : 40).subarray(mode === 'gue' ? 8 : 0), ipOf(input), 'inner packet byte for byte');
        assert.deepEqual(badChecksums(ipOf(out)), []);
        if (mode === 'gue' && fam === 'v6') assert.notEqual(new DataView(out.buffer, out.byteOffset).getUint16(14 + 40 + 6), 0, 'UDP over IPv6 carries a checksum');
        // The next packet of the flow: same outer header (same GUE port and flow label).
        const next = packet({ src: CLIENT[fam], dst: VIP[fam], sport, dport: 80, protocol, tcpFlags: 0x10, payload: payload(300) });
        assert.deepEqual(dp.testRun(next).packet, encapsulated(next, { mode, src: LB[fam], dst: POD[fam], hash, guePort: 5555 }));
      });
    }
  }
}

test('gue: flows of one client spread over outer source ports in 49152–65535', () => {
  const ports = new Set<number>();
  for (let i = 0; i < 16; i++) {
    const out = gue.testRun(packet({ src: CLIENT.v4, dst: VIP.v4, sport: 41_000 + i, dport: 80, protocol: 'udp' })).packet;
    const port = sourcePort(out);
    assert.ok(port >= 49_152, `GUE source port ${port}`);
    ports.add(port);
  }
  assert.ok(ports.size >= 12, `16 flows got ${ports.size} distinct outer ports`);
});

test('ipip: a VLAN tag stays in front of the outer header', () => {
  const input = packet({ src: CLIENT.v4, dst: VIP.v4, sport: 42_000, dport: 80, protocol: 'tcp', vlan: 7 });
  const out = ipip.testRun(input).packet;
  assert.deepEqual(out, encapsulated(input, { mode: 'ipip', src: LB.v4, dst: POD.v4, hash: flowHash(CLIENT.v4, 42_000, 'tcp') }));
  assert.deepEqual([...out.subarray(12, 18)], [0x81, 0x00, 0, 7, 0x08, 0x00]);
});

test('encap modes: non-VIP traffic, unknown ports and truncated frames pass untouched', () => {
  for (const spec of [
    { src: CLIENT.v4, dst: '10.0.1.1', sport: 40_000, dport: 80, protocol: 'tcp' },
    { src: CLIENT.v6, dst: VIP.v6, sport: 40_000, dport: 81, protocol: 'udp' },
  ] as const) {
    const input = packet(spec);
    const r = gue.testRun(input);
    assert.equal(r.verdict, 'XDP_PASS');
    assert.deepEqual(r.packet, input);
  }
  for (const fam of FAMILIES) {
    const full = packet({ src: CLIENT[fam], dst: VIP[fam], sport: 40_001, dport: 80, protocol: 'tcp' });
    for (let length = 14; length < full.length; length++) {
      const input = full.slice(0, length);
      const r = ipip.testRun(input);
      assert.equal(r.verdict, 'XDP_PASS', `${fam} cut at ${length}`);
      assert.deepEqual(r.packet, input, `${fam} cut at ${length}`);
    }
  }
});

/** The IP payload that makes a TCP packet exactly `total` bytes from the IP header on. */
function sized(fam: 'v4' | 'v6', total: number, extra: Partial<PacketSpec> = {}): Uint8Array {
  return packet({ src: CLIENT[fam], dst: VIP[fam], sport: clientPort++, dport: 80, protocol: 'tcp', tcpFlags: 0x10, payload: payload(total - (fam === 'v4' ? 40 : 60)), ...extra });
}

for (const [mode, overhead] of [['ipip', { v4: 20, v6: 40 }], ['gue', { v4: 28, v6: 48 }]] as const) {
  for (const fam of FAMILIES) {
    test(`${mode} ${fam}: a packet that fits after encapsulation goes; one byte more is answered with ICMP "too big" (MTU 1500 − ${overhead[fam]})`, () => {
      const dp = mode === 'ipip' ? ipip : gue;
      const fits = sized(fam, 1500 - overhead[fam]);
      const ok = dp.testRun(fits);
      assert.equal(ok.verdict, 'XDP_PASS');
      assert.equal(ok.packet.length, fits.length + overhead[fam]);

      const big = sized(fam, 1501 - overhead[fam]);
      const r = dp.testRun(big);
      assert.equal(r.verdict, 'XDP_TX', 'answered out of the interface it came in on');
      const quote = ipOf(big).subarray(0, fam === 'v4' ? 128 : 256);
      // From the VIP to the client, MACs swapped: the client's TCP lowers its MSS for the VIP.
      const expected = icmpTooBig({ src: VIP[fam], dst: CLIENT[fam], mtu: 1500 - overhead[fam], quote, macs: { dst: MAC_SRC, src: MAC_DST } });
      assert.deepEqual(r.packet, expected);
      assert.deepEqual(badChecksums(ipOf(r.packet)), []);
    });
  }
}

test('ICMP "too big" answers are rate-limited per CPU: over the burst a too-big packet is dropped unanswered, and both are counted', async () => {
  // 1 answer a second and 3 in a row: 20 packets in a burst get 3 answers per CPU the test
  // happens to run on (this machine has 2), plus whatever a second's refill gives.
  const dp = await plane('icmp-limited', { forwarding: 'ipip', icmpLimit: { perSecond: 1, burst: 3 } });
  const verdicts = Array.from({ length: 20 }, () => dp.testRun(sized('v4', 1481)).verdict);
  const answered = verdicts.filter((v) => v === 'XDP_TX').length;
  const dropped = verdicts.filter((v) => v === 'XDP_DROP').length;
  assert.equal(answered + dropped, 20, verdicts.join(' '));
  assert.ok(answered >= 3 && answered <= 8, `${answered} answers for a burst of 3 per CPU`);
  const stats = dp.stats();
  assert.equal(stats.icmpTooBigSent, BigInt(answered));
  assert.equal(stats.icmpTooBigLimited, BigInt(dropped));
  // A packet that fits is never limited.
  assert.equal(dp.testRun(sized('v4', 1480)).verdict, 'XDP_PASS');
});

test('ipip v4: too big without DF is encapsulated with DF clear for the kernel to fragment; a VLAN tag stays on a "too big" answer', () => {
  const big = sized('v4', 1481);
  const noDf = Uint8Array.from(big);
  noDf[20] = 0; // flags/fragment offset: DF cleared
  noDf[24] = 0;
  noDf[25] = 0;
  const sum = badChecksums(ipOf(noDf));
  assert.deepEqual(sum, ['packet: IPv4 header'], 'the test clears DF, then fixes the header checksum below');
  // Recompute the IPv4 header checksum of the edited packet in full.
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (noDf[i]! << 8) | noDf[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  noDf[24] = (~s >> 8) & 0xff;
  noDf[25] = ~s & 0xff;
  assert.deepEqual(badChecksums(ipOf(noDf)), []);
  const r = ipip.testRun(noDf);
  assert.equal(r.verdict, 'XDP_PASS');
  const sport = (noDf[34]! << 8) | noDf[35]!;
  assert.deepEqual(r.packet, encapsulated(noDf, { mode: 'ipip', src: LB.v4, dst: POD.v4, hash: flowHash(CLIENT.v4, sport, 'tcp'), df: false }));

  const tagged = sized('v6', 1461, { vlan: 9 });
  const answer = ipip.testRun(tagged);
  assert.equal(answer.verdict, 'XDP_TX');
  assert.deepEqual(answer.packet, icmpTooBig({ src: VIP.v6, dst: CLIENT.v6, mtu: 1460, quote: ipOf(tagged).subarray(0, 256), vlan: 9, macs: { dst: MAC_SRC, src: MAC_DST } }));
});

/** The reply the backend sent (as the client sees it, VIP → client), as quoted by a router. */
function quoted(fam: 'v4' | 'v6', protocol: 'tcp' | 'udp', sport: number, src = VIP[fam], from = 80, dst = CLIENT[fam], to = sport): Uint8Array {
  return ipOf(packet({ src, dst, sport: from, dport: to, protocol, tcpFlags: 0x18, payload: payload(64) }));
}

for (const fam of FAMILIES) {
  for (const protocol of PROTOCOLS) {
    test(`nat ${fam} ${protocol}: ICMP "too big" about a VIP flow goes to its backend, rewritten as the backend's own flow, every checksum right`, () => {
      const sport = clientPort++;
      const fwd = nat.testRun(packet({ src: CLIENT[fam], dst: VIP[fam], sport, dport: 80, protocol }));
      const snatPort = sourcePort(fwd.packet);
      const mtu = fam === 'v4' ? 1400 : 1380;
      for (const cut of [undefined, fam === 'v4' ? 28 : 48] as const) {
        // Whole quote, then only the IP header + 8 bytes (RFC 792's minimum: no TCP checksum in it).
        const quote = quoted(fam, protocol, sport).subarray(0, cut);
        const input = icmpTooBig({ src: ROUTER[fam], dst: VIP[fam], mtu, quote, ttl: 60 });
        const r = nat.testRun(input);
        assert.equal(r.verdict, 'XDP_PASS', 'forwarded (fib: false: to the kernel)');
        // What the backend must see: an error about the packet it sent, backend:8080 → LB:snatPort,
        // from the LB (the flow is masqueraded).
        const mine = quoted(fam, protocol, sport, POD[fam], 8080, LB[fam], snatPort).subarray(0, cut);
        const expected = icmpTooBig({ src: LB[fam], dst: POD[fam], mtu, quote: mine, ttl: 60 });
        assert.deepEqual(r.packet, expected, cut === undefined ? 'whole quote' : 'quote cut after 8 bytes of the transport header');
        assert.deepEqual(badChecksums(ipOf(r.packet)), [], 'checksums recomputed from scratch');
      }
    });
  }
}

test('ipip: ICMP "too big" about a VIP flow is encapsulated to the flow\'s backend like the flow\'s own packets', () => {
  const sport = clientPort++;
  const flow = gue.testRun(packet({ src: CLIENT.v6, dst: VIP.v6, sport, dport: 80, protocol: 'tcp' })).packet;
  const input = icmpTooBig({ src: ROUTER.v6, dst: VIP.v6, mtu: 1380, quote: quoted('v6', 'tcp', sport) });
  const r = gue.testRun(input);
  assert.equal(r.verdict, 'XDP_PASS');
  assert.deepEqual(r.packet, encapsulated(input, { mode: 'gue', src: LB.v6, dst: POD.v6, hash: flowHash(CLIENT.v6, sport, 'tcp'), guePort: 5555 }));
  assert.equal(sourcePort(r.packet), sourcePort(flow), 'the same outer port as the flow: the same backend queue');
});

test('ICMP the program does not handle passes untouched: unknown flow, truncated or malformed quote, echo', () => {
  for (const dp of [nat, ipip]) {
    const sport = clientPort++;
    dp.testRun(packet({ src: CLIENT.v4, dst: VIP.v4, sport, dport: 80, protocol: 'udp' }));
    const cases: [string, Uint8Array][] = [
      ['no such flow', icmpTooBig({ src: ROUTER.v4, dst: VIP.v4, mtu: 1400, quote: quoted('v4', 'udp', 1) })],
      ['quote cut inside the ports', icmpTooBig({ src: ROUTER.v4, dst: VIP.v4, mtu: 1400, quote: quoted('v4', 'udp', sport).subarray(0, 24) })],
      ['quote cut inside the IP header', icmpTooBig({ src: ROUTER.v4, dst: VIP.v4, mtu: 1400, quote: quoted('v4', 'udp', sport).subarray(0, 12) })],
      ['quoted source is not the VIP', icmpTooBig({ src: ROUTER.v4, dst: VIP.v4, mtu: 1400, quote: quoted('v4', 'udp', sport, '10.200.0.99') })],
      ['v6 quote cut inside the ports', icmpTooBig({ src: ROUTER.v6, dst: VIP.v6, mtu: 1400, quote: quoted('v6', 'udp', sport).subarray(0, 44) })],
      ['echo request to the VIP', icmpTooBig({ src: CLIENT.v4, dst: VIP.v4, mtu: 0, quote: payload(32), type: 8, code: 0 })],
      ['ICMPv6 echo request to the VIP', icmpTooBig({ src: CLIENT.v6, dst: VIP.v6, mtu: 0, quote: payload(32), type: 128, code: 0 })],
      ['destination unreachable, port unreachable', icmpTooBig({ src: ROUTER.v4, dst: VIP.v4, mtu: 0, quote: quoted('v4', 'udp', sport), type: 3, code: 3 })],
    ];
    for (const [what, input] of cases) {
      const r = dp.testRun(input);
      assert.equal(r.verdict, 'XDP_PASS', what);
      assert.deepEqual(r.packet, input, what);
    }
    // Every length of a well-formed error cut short: never out of bounds, never rewritten.
    const whole = icmpTooBig({ src: ROUTER.v4, dst: VIP.v4, mtu: 1400, quote: quoted('v4', 'udp', sport).subarray(0, 28) });
    for (let length = 14; length < whole.length; length++) {
      const input = whole.slice(0, length);
      const r = dp.testRun(input);
      assert.equal(r.verdict, 'XDP_PASS', `cut at ${length}`);
      assert.deepEqual(r.packet, input, `cut at ${length}`);
    }
  }
});

test('an encap mode without an LB address for the family drops (and counts) that family', async () => {
  const v4only = await plane('v4only', { forwarding: 'ipip', snatAddresses: { v4: LB.v4 } });
  const before = v4only.stats().dropped;
  assert.equal(v4only.testRun(packet({ src: CLIENT.v6, dst: VIP.v6, sport: 43_000, dport: 80, protocol: 'udp' })).verdict, 'XDP_DROP');
  assert.equal(v4only.stats().dropped - before, 1n);
  assert.equal(v4only.testRun(packet({ src: CLIENT.v4, dst: VIP.v4, sport: 43_000, dport: 80, protocol: 'udp' })).verdict, 'XDP_PASS');
});

// Two LB nodes behind a stateless ECMP router: a flow moved from one to the other in mid-flight
// (a drain, a node joining) must reach the same backend there, or the backend resets it. Each
// node numbers its backends by its own history (slots are reused); what must agree is the backend
// each ring position leads to, for the same backend set in any order.
test('two LB nodes with different histories send every flow to the same backend (encapsulated to the same address)', async () => {
  const pods = [41, 42, 43, 44, 45].map((n) => `10.100.1.${n}`);
  const tableOf = (addresses: readonly string[]): ServiceTable => ({ frontends: [webFrontend(VIP.v4, 'tcp', addresses.map((a) => readyBackend(a, 80)))], denySources: [] });
  const lb1 = await plane('node-a', { forwarding: 'ipip' });
  await lb1.apply(tableOf(pods));
  const lb2 = await plane('node-b', { forwarding: 'ipip' });
  await lb2.apply(tableOf(['10.100.1.46', pods[4]!, pods[3]!]));
  await lb2.apply(tableOf([pods[2]!, pods[4]!, pods[0]!, pods[3]!, pods[1]!]));
  const outerDestination = (dp: XdpDataplane, sport: number): string => {
    const out = ipOf(dp.testRun(packet({ src: CLIENT.v4, dst: VIP.v4, sport, dport: 80, protocol: 'tcp', tcpFlags: 0x10 })).packet);
    return [...out.subarray(16, 20)].join('.');
  };
  const chosen = new Map<string, number>();
  for (let sport = 20_000; sport < 20_400; sport++) {
    const there = outerDestination(lb1, sport);
    assert.equal(outerDestination(lb2, sport), there, `client port ${sport}`);
    chosen.set(there, (chosen.get(there) ?? 0) + 1);
  }
  assert.deepEqual([...chosen.keys()].sort(), pods, 'the flows spread over every backend');
});
