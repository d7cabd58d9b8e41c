// Packet fixtures with a FIB: the program runs (BPF_PROG_TEST_RUN) inside a namespace whose routes
// and permanent neighbour entries answer bpf_fib_lookup, so forwarded frames come back with the
// MACs the program wrote and the verdict it really returns. dsr-l2 (every fixture of that mode
// lives here: it forwards only by FIB), ipip/gue to a backend behind a gateway, nat's TTL.
// Root: network namespace, BPF. The test run's ingress device is the namespace's lo, so a frame
// forwarded out of the LB's interface is XDP_REDIRECT (on a real NIC, back out of it: XDP_TX).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Frontend, ServiceTable } from '../src/model/index.ts';
import { readyBackend, webFrontend } from './support/frontends.ts';
import { buildBpfObject } from '../src/dataplane/xdp/index.ts';
import type { FibJob, FibJobResult } from './support/xdp-fib-child.ts';
import { badChecksums, encapsulated, flowHash, icmpTooBig, ipOf, packet, sourcePort, type PacketSpec } from './support/xdp-packets.ts';

const CHILD = fileURLToPath(new URL('./support/xdp-fib-child.ts', import.meta.url));
const NS = `vgt${randomBytes(2).toString('hex')}-fib`;
const DEV = 'vgfa';
const MAC = { lb: [2, 0, 0, 0, 1, 0x16], backend: [2, 0, 0, 0, 1, 0x41], gateway: [2, 0, 0, 0, 1, 0x01] };
const hexMac = (m: number[]): string => m.map((b) => b.toString(16).padStart(2, '0')).join(':');

const LB = { v4: '10.180.1.16', v6: 'fd00:180:1::16' };
const CLIENT = { v4: '10.0.1.2', v6: 'fd00:1::2' };
const VIP = { v4: '10.200.0.5', v6: 'fd00:200::5' };
const ROUTER = { v4: '10.0.9.1', v6: 'fd00:9::1' };
/** dsr-l2: on the LB's segment. */
const NEIGHBOUR = { v4: '10.180.1.41', v6: 'fd00:180:1::41' };
/** ipip/gue/nat: in another subnet, behind the gateway. */
const POD = { v4: '10.100.1.41', v6: 'fd00:100:1::41' };
const GATEWAY = { v4: '10.180.1.1', v6: 'fd00:180:1::1' };
const FAMILIES = ['v4', 'v6'] as const;
const PROTOCOLS = ['tcp', 'udp'] as const;

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

before(() => {
  buildBpfObject();
  ip('netns', 'add', NS);
  try {
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    ip('-n', NS, 'link', 'add', DEV, 'address', hexMac(MAC.lb), 'type', 'veth', 'peer', 'name', 'vgfb');
    ip('-n', NS, 'link', 'set', DEV, 'up');
    ip('-n', NS, 'link', 'set', 'vgfb', 'up');
    ip('-n', NS, 'addr', 'add', `${LB.v4}/24`, 'dev', DEV);
    ip('-n', NS, 'addr', 'add', `${LB.v6}/64`, 'dev', DEV, 'nodad');
    // bpf_fib_lookup answers only where the kernel would forward.
    execFileSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    for (const [addr, mac] of [[NEIGHBOUR.v4, MAC.backend], [NEIGHBOUR.v6, MAC.backend], [GATEWAY.v4, MAC.gateway], [GATEWAY.v6, MAC.gateway]] as const) {
      ip('-n', NS, 'neigh', 'add', addr, 'lladdr', hexMac(mac), 'dev', DEV, 'nud', 'permanent');
    }
    ip('-n', NS, 'route', 'add', '10.100.0.0/16', 'via', GATEWAY.v4);
    ip('-n', NS, 'route', 'add', 'fd00:100::/32', 'via', GATEWAY.v6);
  } catch (error) {
    ip('netns', 'del', NS);
    throw error;
  }
});

after(() => {
  ip('netns', 'del', NS);
});

const frontend = (address: string, protocol: 'tcp' | 'udp', backend: string, port: number): Frontend => webFrontend(address, protocol, [readyBackend(backend, port)]);

function table(backends: Record<'v4' | 'v6', string>, port: number): ServiceTable {
  return {
    frontends: FAMILIES.flatMap((fam) => PROTOCOLS.map((proto) => frontend(VIP[fam], proto, backends[fam], port))),
    denySources: ['10.180.2.0/24'],
  };
}

interface Ran {
  readonly verdict: string;
  readonly packet: Uint8Array;
}

/** Runs the jobs in the namespace (one child process: one program load per job). */
function run(jobs: { forwarding: FibJob['options']['forwarding']; table: ServiceTable; frames: Uint8Array[] }[]): { out: Ran[]; forwarded: bigint }[] {
  const input: FibJob[] = jobs.map((j) => ({
    options: { interfaces: [DEV], mode: 'generic', forwarding: j.forwarding, snatAddresses: LB, guePort: 5555 },
    table: j.table,
    frames: j.frames.map((f) => Buffer.from(f).toString('hex')),
  }));
  const stdout = execFileSync('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', CHILD, JSON.stringify({ jobs: input })], { encoding: 'utf8', timeout: 120_000 });
  const results = JSON.parse(stdout.trim().split('\n').at(-1)!) as FibJobResult[];
  return results.map((r) => ({ out: r.results.map((x) => ({ verdict: x.verdict, packet: Uint8Array.from(Buffer.from(x.packet, 'hex')) })), forwarded: BigInt(r.forwarded) }));
}

const withMacs = (frame: Uint8Array, dst: number[], src: number[]): Uint8Array => Uint8Array.from([...dst, ...src, ...frame.subarray(12)]);
const spec = (fam: 'v4' | 'v6', protocol: 'tcp' | 'udp', sport: number, extra: Partial<PacketSpec> = {}): PacketSpec => ({ src: CLIENT[fam], dst: VIP[fam], sport, dport: 80, protocol, ...extra });

test('dsr-l2: VIP traffic goes to the backend\'s MAC with nothing else changed; ICMP "too big" about a flow follows it; the rest passes or drops', () => {
  const flows = FAMILIES.flatMap((fam) => PROTOCOLS.map((proto, i) => ({ fam, proto, sport: 40_000 + i })));
  const frames = flows.map((f) => packet(spec(f.fam, f.proto, f.sport)));
  // A router on the way back to the client quotes the backend's reply, VIP:80 → client.
  const icmp = FAMILIES.map((fam) =>
    icmpTooBig({ src: ROUTER[fam], dst: VIP[fam], mtu: 1400, quote: ipOf(packet({ src: VIP[fam], dst: CLIENT[fam], sport: 80, dport: 40_000, protocol: 'tcp', tcpFlags: 0x18 })) }),
  );
  const other = [
    packet({ src: CLIENT.v4, dst: '10.0.1.1', sport: 40_000, dport: 80, protocol: 'tcp' }), // not a VIP
    packet(spec('v6', 'tcp', 40_000, { dport: 443 })), // VIP, unknown port
    packet({ ...spec('v4', 'udp', 40_000), src: '10.180.2.7' }), // denied source
    packet(spec('v4', 'tcp', 40_000)).slice(0, 14 + 20 + 10), // truncated TCP header
  ];
  const [dsr] = run([{ forwarding: 'dsr-l2', table: table(NEIGHBOUR, 80), frames: [...frames, ...icmp, ...other] }]);
  assert.ok(dsr !== undefined);
  for (const [i, f] of flows.entries()) {
    const r: Ran = dsr.out[i]!;
    assert.equal(r.verdict, 'XDP_REDIRECT', `${f.fam} ${f.proto}`);
    assert.deepEqual(r.packet, withMacs(frames[i]!, MAC.backend, MAC.lb), `${f.fam} ${f.proto}: only the MACs change (TTL too stays)`);
  }
  for (const [i, fam] of FAMILIES.entries()) {
    const r: Ran = dsr.out[flows.length + i]!;
    assert.equal(r.verdict, 'XDP_REDIRECT', `${fam} ICMP`);
    assert.deepEqual(r.packet, withMacs(icmp[i]!, MAC.backend, MAC.lb), `${fam} ICMP: to the backend, unchanged`);
  }
  const rest = dsr.out.slice(flows.length + icmp.length);
  assert.deepEqual(
    rest.map((r) => r.verdict),
    ['XDP_PASS', 'XDP_PASS', 'XDP_DROP', 'XDP_PASS'],
  );
  assert.deepEqual(rest[0]!.packet, other[0]);
  assert.deepEqual(rest[1]!.packet, other[1]);
  assert.deepEqual(rest[3]!.packet, other[3]);
  assert.equal(dsr.forwarded, BigInt(flows.length + icmp.length), 'vg_stats: every forwarded frame counted');
});

test('ipip/gue: the outer packet goes to the gateway\'s MAC (FIB on the outer destination), outer TTL 64, inner untouched; nat: TTL decremented', () => {
  const frames = FAMILIES.flatMap((fam) => PROTOCOLS.map((proto, i) => packet(spec(fam, proto, 41_000 + i, { ttl: 30 }))));
  const [ipip, gue, nat] = run([
    { forwarding: 'ipip', table: table(POD, 80), frames },
    { forwarding: 'gue', table: table(POD, 80), frames },
    { forwarding: 'nat', table: table(POD, 8080), frames },
  ]);
  assert.ok(ipip !== undefined && gue !== undefined && nat !== undefined);
  for (const [mode, res] of [['ipip', ipip], ['gue', gue]] as const) {
    for (const [i, input] of frames.entries()) {
      const fam = i < 2 ? 'v4' : 'v6';
      const proto = i % 2 === 0 ? 'tcp' : 'udp';
      const r: Ran = res.out[i]!;
      assert.equal(r.verdict, 'XDP_REDIRECT', `${mode} ${fam} ${proto}`);
      const expected = encapsulated(input, { mode, src: LB[fam], dst: POD[fam], hash: flowHash(CLIENT[fam], 41_000 + (i % 2), proto), guePort: 5555 });
      assert.deepEqual(r.packet, withMacs(expected, MAC.gateway, MAC.lb), `${mode} ${fam} ${proto}`);
    }
    assert.equal(res.forwarded, BigInt(frames.length));
  }
  for (const [i, r] of nat.out.entries()) {
    const fam = i < 2 ? 'v4' : 'v6';
    const protocol = i % 2 === 0 ? 'tcp' : 'udp';
    assert.equal(r.verdict, 'XDP_REDIRECT');
    // A router hop: TTL/hop limit 30 → 29, the IPv4 checksum following.
    const expected = packet({ src: LB[fam], dst: POD[fam], sport: sourcePort(r.packet), dport: 8080, protocol, ttl: 29 });
    assert.deepEqual(r.packet, withMacs(expected, MAC.gateway, MAC.lb), `nat ${fam} ${protocol}`);
    assert.deepEqual(badChecksums(ipOf(r.packet)), []);
  }
});
