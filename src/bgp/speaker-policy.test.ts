import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { formatCidr, parseCidr } from '../net/index.ts';
import { defaultConnect } from './connection.ts';
import { FakePeer, until, type PeerConnection } from './fake-peer.fixture.ts';
import { silentLogger } from './runtime.ts';
import { Speaker } from './speaker.ts';
import { getIntSocketOption } from './tcp-md5.ts';
import { connectWithTtl, sessionTtl, socketFd, TtlOption } from './ttl.ts';
import type { UpdateMessage } from './wire/update.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const updatesOf = (c: PeerConnection): UpdateMessage[] => c.received.filter((m): m is UpdateMessage => m.type === 'update');
/** prefix → its communities as text, over everything announced so far (later UPDATEs win). */
function routes(c: PeerConnection): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const u of updatesOf(c)) {
    for (const p of u.withdrawn) out.delete(formatCidr(p));
    for (const p of u.nlri) out.set(formatCidr(p), (u.attributes.communities ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`));
  }
  return out;
}

async function twoPeers(): Promise<{ speaker: Speaker; a: PeerConnection; b: PeerConnection }> {
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002 });
  const peers = await Promise.all([FakePeer.listen('127.0.0.21'), FakePeer.listen('127.0.0.22')]);
  cleanups.push(async () => {
    await speaker.stop();
    for (const p of peers) await p.close();
  });
  for (const p of peers) speaker.addPeer({ address: p.host, asn: 65001, port: p.port, families: ['ipv4'] });
  const [a, b] = await Promise.all(peers.map((p) => p.handshake()));
  return { speaker, a: a!, b: b! };
}

test('per-peer sets: each peer gets its own prefixes and communities; a change for one peer sends nothing to the other', async () => {
  const { speaker, a, b } = await twoPeers();
  const common = [{ prefix: parseCidr('10.200.0.5/32'), communities: ['65002:1'] }];
  speaker.setPeerAdvertisements({
    default: [],
    byPeer: new Map([
      ['127.0.0.21', [...common, { prefix: parseCidr('10.201.0.0/24'), communities: ['65002:2'] }]],
      ['127.0.0.22', common],
    ]),
  });
  await until(() => routes(a).size === 2 && routes(b).size === 1, 'both peers told');
  assert.deepEqual(Object.fromEntries(routes(a)), { '10.200.0.5/32': ['65002:1'], '10.201.0.0/24': ['65002:2'] });
  assert.deepEqual(Object.fromEntries(routes(b)), { '10.200.0.5/32': ['65002:1'] });
  assert.deepEqual(speaker.routesSentTo('127.0.0.22'), ['10.200.0.5/32']);

  const bUpdates = updatesOf(b).length;
  speaker.setPeerAdvertisements({ default: common, byPeer: new Map([['127.0.0.21', [{ prefix: parseCidr('10.200.0.5/32'), communities: ['65002:1', '65002:9'] }]]]) });
  await until(() => routes(a).get('10.200.0.5/32')?.length === 2 && !routes(a).has('10.201.0.0/24'), 'peer a re-told');
  assert.deepEqual(routes(a).get('10.200.0.5/32'), ['65002:1', '65002:9']);
  // b now takes the default, which equals what it has: nothing on its wire.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(updatesOf(b).length, bUpdates);
});

test('a bad set for one peer is refused whole, naming the peer; nothing changes', async () => {
  const { speaker, a } = await twoPeers();
  speaker.setPeerAdvertisements({ default: [{ prefix: parseCidr('10.200.0.5/32') }], byPeer: new Map() });
  await until(() => routes(a).size === 1, 'peer a told');
  assert.throws(
    () => speaker.setPeerAdvertisements({ default: [], byPeer: new Map([['127.0.0.22', [{ prefix: parseCidr('10.200.0.6/32'), communities: ['65536:1'] }]]]) }),
    { code: 'BGP_BAD_ADVERTISEMENT', message: /peer 127\.0\.0\.22: advertisement 0/ },
  );
  assert.deepEqual(speaker.routesSentTo('127.0.0.21'), ['10.200.0.5/32']);
});

test('a new set is synced one peer per turn of the event loop (a large set never holds the loop for all peers at once)', async () => {
  const { speaker } = await twoPeers();
  await until(() => speaker.peers().every((p) => p.state === 'Established'), 'both sessions Established');
  speaker.setAdvertisements([{ prefix: parseCidr('10.200.0.5/32') }, { prefix: parseCidr('10.200.0.6/32') }]);
  assert.deepEqual(
    speaker.peers().map((p) => p.prefixesSent),
    [2, 0],
    'the second peer waits for the next turn',
  );
  await until(() => speaker.peers().every((p) => p.prefixesSent === 2), 'both peers synced');
});

test('a session that leaves Established counts one flap', async () => {
  const { speaker, a } = await twoPeers();
  await until(() => speaker.peers().every((p) => p.state === 'Established'), 'both sessions Established');
  assert.equal(speaker.peers()[0]?.flaps, 0);
  a.socket.destroy();
  await until(() => speaker.peers()[0]?.state !== 'Established', 'the session to drop');
  assert.deepEqual(
    speaker.peers().map((p) => p.flaps),
    [1, 0],
  );
});

test('multihop: eBGP only, 2..255, never with BFD', () => {
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002 });
  cleanups.push(() => speaker.stop());
  assert.throws(() => speaker.addPeer({ address: '192.0.2.1', asn: 65002, multihop: 3, passive: true }), { code: 'BGP_BAD_PEER_CONFIG', message: /eBGP peers only/ });
  assert.throws(() => speaker.addPeer({ address: '192.0.2.1', asn: 65001, multihop: 256, passive: true }), { code: 'BGP_BAD_PEER_CONFIG', message: /2\.\.255/ });
  assert.throws(() => speaker.addPeer({ address: '192.0.2.1', asn: 65001, multihop: 3, passive: true, bfd: { minTxMs: 300, minRxMs: 300, multiplier: 3 } }), {
    code: 'BGP_BAD_PEER_CONFIG',
    message: /single-hop/,
  });
  assert.equal(sessionTtl(false, undefined), 1, 'eBGP: TTL 1 as routers send it');
  assert.equal(sessionTtl(false, 5), 5);
  assert.equal(sessionTtl(true, undefined), undefined, 'iBGP: the kernel default');
});

test('connectWithTtl: the connected socket has the TTL (IPv4) or hop limit (IPv6) before the first byte is sent', async () => {
  const server = createServer((s) => s.destroy());
  const host = '::1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const socket = connectWithTtl(defaultConnect, 7, silentLogger)({ host, port }) as Socket;
  const seen = await new Promise<number>((resolve, reject) => {
    socket.once('error', reject);
    // Registered after connectWithTtl's own listener, as the session's is.
    socket.once('connect', () => resolve(getIntSocketOption(socketFd(socket) ?? -1, TtlOption.IPPROTO_IPV6, TtlOption.IPV6_UNICAST_HOPS)));
  });
  socket.destroy();
  assert.equal(seen, 7);
});

test('connectWithTtl on IPv4: TTL 1 for a directly connected eBGP router', async () => {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const socket = connectWithTtl(defaultConnect, 1, silentLogger)({ host: '127.0.0.1', port }) as Socket;
  const ttl = await new Promise<number>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => resolve(getIntSocketOption(socketFd(socket) ?? -1, TtlOption.IPPROTO_IP, TtlOption.IP_TTL)));
  });
  socket.destroy();
  assert.equal(ttl, 1);
});
