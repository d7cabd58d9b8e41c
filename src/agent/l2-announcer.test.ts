// Two (or three) L2 announcers on an in-memory segment, with BFD between them over an in-memory
// transport: they agree on one owner per VIP, a dead owner is replaced, and nodes that lost BFD
// while sharing the segment still leave exactly one node answering for each VIP. The kernel-level
// proof (real sockets, a bridge, clients' neighbour tables) is test/l2-failover.test.ts.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pino from 'pino';
import type { BfdReceiver, BfdTransport } from '../bgp/bfd/index.ts';
import { DEFAULT_L2_ANNOUNCE, type L2Config } from '../config/index.ts';
import { rankNodes } from '../l2/ownership.ts';
import type { PacketSocket } from '../l2/packet-socket.ts';
import { formatMac, parseMac } from '../l2/wire/ethernet.ts';
import { parseIp } from '../net/index.ts';
import { l2Announcer, type L2Announcer } from './l2-announcer.ts';

const log = pino({ level: 'silent' });
const NODES = { lb1: '10.77.0.2', lb2: '10.77.0.3', lb3: '10.77.0.4' } as const;
type NodeName = keyof typeof NODES;
const VIPS = Array.from({ length: 12 }, (_, i) => `10.77.0.${100 + i}/32`);

/** One Ethernet segment: every frame reaches every other socket of its EtherType; `cut` nodes send and receive nothing. */
class Segment {
  readonly sockets: { node: string; kind: 'arp' | 'ipv6'; queue: Uint8Array[]; closed: boolean }[] = [];
  readonly cut = new Set<string>();

  open(node: NodeName, kind: 'arp' | 'ipv6'): PacketSocket {
    const entry = { node, kind, queue: [] as Uint8Array[], closed: false };
    this.sockets.push(entry);
    const etherType = kind === 'arp' ? 0x0806 : 0x86dd;
    return {
      ifname: 'eth0',
      ifindex: 2,
      mac: parseMac(macOf(node)),
      receive: () => entry.queue.splice(0),
      send: (frame) => {
        if (this.cut.has(node) || entry.closed) return;
        for (const s of this.sockets) {
          if (s === entry || s.closed || this.cut.has(s.node)) continue;
          if (((frame[12]! << 8) | frame[13]!) === etherType && s.kind === kind) s.queue.push(frame);
        }
      },
      joinGroup: () => undefined,
      leaveGroup: () => undefined,
      close: () => void (entry.closed = true),
    };
  }
}

const macOf = (node: string): string => `02:00:00:00:00:0${node.slice(2)}`;

/** BFD between the nodes' addresses; a pair in `blocked` (either order) loses every packet. */
class BfdWire {
  readonly receivers = new Map<string, BfdReceiver>(); // "local>peer" → receive
  readonly blocked = new Set<string>();
  readonly dead = new Set<string>();
  transport(): BfdTransport {
    return {
      open: (local, peer, receive) => {
        this.receivers.set(`${local}>${peer}`, receive);
        return Promise.resolve({
          send: (bytes) => {
            if (this.dead.has(local) || this.dead.has(peer) || this.blocked.has([local, peer].sort().join('|'))) return;
            setImmediate(() => this.receivers.get(`${peer}>${local}`)?.(bytes));
          },
          close: () => Promise.resolve(void this.receivers.delete(`${local}>${peer}`)),
        });
      },
    };
  }
}

function section(names: readonly NodeName[], holdDown = 0): L2Config {
  return {
    advertisements: [{ pools: [], interfaces: ['eth0'] }],
    peers: names.map((name) => ({ name, addresses: [NODES[name]] })),
    announce: { ...DEFAULT_L2_ANNOUNCE, intervalMs: 20 },
    failbackHoldDownSeconds: holdDown,
    bfd: { minTxMs: 20, minRxMs: 20, multiplier: 3 },
  };
}

const started: L2Announcer[] = [];
after(async () => {
  for (const a of started) await a.stop();
});

function node(name: NodeName, names: readonly NodeName[], segment: Segment, wire: BfdWire, holdDown = 0): L2Announcer {
  const a = l2Announcer(section(names, holdDown), {
    log,
    nodeName: name,
    pools: () => [],
    interfaces: () => new Map([['eth0', [{ address: NODES[name], prefixLength: 24 }]]]),
    transport: wire.transport(),
    peerOfMac: (_ifname, mac) => Promise.resolve(names.find((n) => macOf(n) === mac)),
    responder: { openSocket: (_ifname, kind) => segment.open(name, kind), pollMs: 2, probeMs: 20 },
  });
  started.push(a);
  return a;
}

/** VIP → the nodes answering for it now. */
function answering(nodes: Record<string, L2Announcer>): Map<string, string[]> {
  const out = new Map<string, string[]>(VIPS.map((v) => [v.replace('/32', ''), []]));
  for (const [name, a] of Object.entries(nodes)) for (const v of a.status().vips) if (v.answering) out.get(v.vip)?.push(name);
  return out;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const firstChoice = (vip: string, among: readonly string[]): string => rankNodes(parseIp(vip), among)[0]!;
const everyVipOn = (nodes: Record<string, L2Announcer>, owner: (vip: string) => string): boolean => [...answering(nodes)].every(([vip, who]) => who.length === 1 && who[0] === owner(vip));

/** Nodes `names` on a fresh segment, every VIP handed to each; waits until each VIP is on its first choice. */
async function sharing<N extends NodeName>(names: readonly N[], holdDown = 0): Promise<{ segment: Segment; wire: BfdWire; nodes: Record<N, L2Announcer> }> {
  const segment = new Segment();
  const wire = new BfdWire();
  const nodes = Object.fromEntries(names.map((n) => [n, node(n, names, segment, wire, holdDown)])) as Record<N, L2Announcer>;
  for (const a of Object.values<L2Announcer>(nodes)) await a.setAdvertisements(VIPS);
  await until('the VIPs to be shared', () => everyVipOn(nodes, (vip) => firstChoice(vip, names)));
  return { segment, wire, nodes };
}

test('two nodes that see each other answer for every VIP once, each VIP on its first choice', async () => {
  const names = ['lb1', 'lb2'] as const;
  const { nodes } = await sharing(names);
  const shares = Object.values(nodes).map((a) => a.status().vips.filter((v) => v.answering).length);
  assert.ok(shares.every((n) => n > 0), `both nodes own some VIPs: ${shares.join(', ')}`);
  assert.equal(nodes.lb1.status().peers[0]?.state, 'Up');
});

test('a node that dies silently is replaced once BFD notices; it takes its VIPs back on return (hold-down 0)', async () => {
  const names = ['lb1', 'lb2'] as const;
  const { segment, wire, nodes } = await sharing(names);
  wire.dead.add(NODES.lb1);
  segment.cut.add('lb1');
  await until('lb2 to answer for every VIP', () => [...answering({ lb2: nodes.lb2 })].every(([, who]) => who.length === 1));
  const moved = nodes.lb2.status().vips.find((v) => firstChoice(v.vip, names) === 'lb1');
  assert.match(moved?.why ?? '', /lb1 is down/);
  assert.ok(nodes.lb2.status().counters.ownershipChanges > 0);
  wire.dead.delete(NODES.lb1);
  segment.cut.delete('lb1');
  await until('lb1 back on its own VIPs', () => everyVipOn(nodes, (vip) => firstChoice(vip, names)));
});

test('BFD lost between two nodes on one segment: each VIP still has exactly one node answering', async () => {
  const names = ['lb1', 'lb2'] as const;
  const { wire, nodes } = await sharing(names);
  wire.blocked.add([NODES.lb1, NODES.lb2].sort().join('|'));
  await until('both to see the other down', () => Object.values(nodes).every((a) => a.status().peers[0]?.state !== 'Up'));
  // Each now wants every VIP, probes the other's and hears it answered: nobody takes over.
  for (let i = 0; i < 20; i++) {
    assert.ok(everyVipOn(nodes, (vip) => firstChoice(vip, names)), `one answer per VIP, from its owner (${JSON.stringify([...answering(nodes)])})`);
    await new Promise((r) => setTimeout(r, 25));
  }
});

test('nodes that start without BFD between them leave one node on each VIP, and the first choice once BFD is up', async () => {
  const segment = new Segment();
  const wire = new BfdWire();
  const names = ['lb1', 'lb2'] as const;
  const pair = [NODES.lb1, NODES.lb2].sort().join('|');
  wire.blocked.add(pair);
  const nodes = { lb1: node('lb1', names, segment, wire), lb2: node('lb2', names, segment, wire) };
  await Promise.all(Object.values(nodes).map((a) => a.setAdvertisements(VIPS)));
  await until('one node answering each VIP', () => [...answering(nodes)].every(([, who]) => who.length === 1));
  for (let i = 0; i < 10; i++) {
    assert.ok([...answering(nodes)].every(([, who]) => who.length === 1), `still one per VIP: ${JSON.stringify([...answering(nodes)])}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  wire.blocked.delete(pair);
  await until('each VIP on its first choice', () => everyVipOn(nodes, (vip) => firstChoice(vip, names)));
});

test('a partition of the segment heals: the two owners of each VIP become one at once', async () => {
  const names = ['lb1', 'lb2'] as const;
  // A long hold-down: neither side may wait for it to agree again.
  const { segment, wire, nodes } = await sharing(names, 60);
  wire.dead.add(NODES.lb1);
  segment.cut.add('lb1');
  await until('each half to answer for every VIP', () => [...answering(nodes)].every(([, who]) => who.length === 2));
  wire.dead.delete(NODES.lb1);
  segment.cut.delete('lb1');
  await until('one node per VIP, its first choice', () => everyVipOn(nodes, (vip) => firstChoice(vip, names)));
  assert.ok(Object.values(nodes).some((a) => a.status().counters.conflicts > 0), 'settled by the conflict rule');
});

test('a node whose dataplane fails hands its VIPs over at once, and a draining one too', async () => {
  const names = ['lb1', 'lb2', 'lb3'] as const;
  const { nodes } = await sharing(names);
  nodes.lb1.setDataplaneHealthy(false);
  assert.equal(nodes.lb1.status().eligible, false);
  await until('lb2 and lb3 to cover lb1', () => everyVipOn(nodes, (vip) => firstChoice(vip, ['lb2', 'lb3'])));
  nodes.lb2.setDraining(true);
  await until('lb3 alone', () => everyVipOn(nodes, () => 'lb3'));
  nodes.lb1.setDataplaneHealthy(true);
  nodes.lb2.setDraining(false);
  await until('all three again', () => everyVipOn(nodes, (vip) => firstChoice(vip, names)));
});

test('a restarted node waits for the hold-down before taking its VIPs back', async () => {
  const segment = new Segment();
  const wire = new BfdWire();
  const names = ['lb1', 'lb2'] as const;
  const lb2 = node('lb2', names, segment, wire, 1);
  const lb2Started = Date.now();
  let lb1 = node('lb1', names, segment, wire, 1);
  for (const a of [lb1, lb2]) await a.setAdvertisements(VIPS);
  await until('the VIPs to be shared', () => everyVipOn({ lb1, lb2 }, (vip) => firstChoice(vip, names)), 8000);
  // Past lb2's own hold-down: a node that returns now meets a settled one (not "starting together").
  await until('lb2 up for more than the hold-down', () => Date.now() - lb2Started > 1100, 3000);
  await lb1.stop();
  await until('lb2 to take every VIP', () => everyVipOn({ lb1, lb2 }, () => 'lb2'));
  lb1 = node('lb1', names, segment, wire, 1);
  await lb1.setAdvertisements(VIPS);
  await until('lb1 seen Up again by lb2', () => lb2.status().peers[0]?.state === 'Up');
  const back = Date.now();
  // Both see lb1 as recent: lb2 keeps covering until lb1 has been up for the hold-down, then hands back.
  assert.ok(everyVipOn({ lb1, lb2 }, () => 'lb2'), 'lb2 still covers right after lb1 returns');
  await until('lb1 back on its VIPs', () => everyVipOn({ lb1, lb2 }, (vip) => firstChoice(vip, names)), 8000);
  assert.ok(Date.now() - back >= 500, 'not before (most of) the hold-down');
});

test('a VIP on no L2 interface subnet is not answered at all', async () => {
  const segment = new Segment();
  const a = node('lb1', ['lb1'], segment, new BfdWire());
  await a.setAdvertisements(['192.0.2.7/32', VIPS[0]!]);
  await until('the in-subnet VIP answered', () => a.status().vips.some((v) => v.answering));
  assert.deepEqual(a.status().vips.map((v) => v.vip), ['10.77.0.100']);
  assert.equal(formatMac(parseMac(macOf('lb1'))), macOf('lb1'));
});
