import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, test } from 'node:test';
import { formatCidr, parseCidr, parseIp } from '../net/index.ts';
import { FakePeer, peerOpen, until, watch, type PeerConnection } from './fake-peer.fixture.ts';
import { Speaker } from './speaker.ts';
import { CeaseSubcode, ErrorCode } from './wire/constants.ts';
import { encodeKeepalive } from './wire/notification.ts';
import { encodeUpdate, isEndOfRib, type UpdateMessage } from './wire/update.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setup(peerCount: number, asn = 65001): Promise<{ speaker: Speaker; peers: FakePeer[]; conns: PeerConnection[] }> {
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002 });
  const peers = await Promise.all(Array.from({ length: peerCount }, (_, i) => FakePeer.listen(`127.0.0.${11 + i}`)));
  cleanups.push(async () => {
    await speaker.stop();
    for (const p of peers) await p.close();
  });
  for (const p of peers) speaker.addPeer({ address: p.host, asn, port: p.port, nextHop: { ipv6: 'fd00:12::2' } });
  return { speaker, peers, conns: [] };
}

const updatesOf = (c: PeerConnection): UpdateMessage[] => c.received.filter((m): m is UpdateMessage => m.type === 'update');
const announced = (c: PeerConnection): string[] => updatesOf(c).flatMap((u) => [...u.nlri, ...(u.attributes.mpReach?.nlri ?? [])].map(formatCidr));
const withdrawn = (c: PeerConnection): string[] => updatesOf(c).flatMap((u) => [...u.withdrawn, ...(u.attributes.mpUnreach?.withdrawn ?? [])].map(formatCidr));

test('one peer per address: a second addPeer for the same address is refused', () => {
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002 });
  speaker.addPeer({ address: '192.0.2.1', asn: 65001, passive: true });
  assert.throws(() => speaker.addPeer({ address: '192.0.2.1', asn: 65001 }), { code: 'BGP_DUPLICATE_PEER' });
  assert.throws(() => speaker.addPeer({ address: '192.0.2.2', asn: 65001, holdTimeSeconds: 2 }), { code: 'BGP_BAD_PEER_CONFIG', message: /0 or 3\.\.65535/ });
  assert.throws(() => new Speaker({ routerId: 'fd00::1', localAsn: 1 }), { code: 'BGP_BAD_SPEAKER_CONFIG' });
  return speaker.stop();
});

test('announces the desired set on Established, then only differences, then End-of-RIB', async () => {
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002 });
  const peer = await FakePeer.listen();
  cleanups.push(async () => {
    await speaker.stop();
    await peer.close();
  });
  speaker.setAdvertisements([{ prefix: '10.200.0.5/32' }, { prefix: '10.200.0.6/32' }, { prefix: 'fd00:200::5/128' }]);
  speaker.addPeer({ address: '127.0.0.1', asn: 65001, port: peer.port, nextHop: { ipv6: 'fd00:12::2' } });
  const c = await peer.handshake();
  await until(() => updatesOf(c).filter(isEndOfRib).length === 2, 'End-of-RIB for both families');
  const ups = updatesOf(c);
  assert.equal(ups.length, 4, 'one IPv4 UPDATE (batched), one IPv6, two End-of-RIB');
  assert.deepEqual(announced(c).sort(), ['10.200.0.5/32', '10.200.0.6/32', 'fd00:200::5/128']);
  assert.deepEqual(ups[0]!.attributes.nextHop, parseIp('127.0.0.1'), 'default next hop: our address on the session');
  assert.deepEqual(ups[1]!.attributes.mpReach?.nextHops, [parseIp('fd00:12::2')]);

  const before = updatesOf(c).length;
  speaker.setAdvertisements([{ prefix: '10.200.0.5/32' }, { prefix: '10.200.0.7/32' }, { prefix: 'fd00:200::5/128' }]);
  await until(() => updatesOf(c).length === before + 2, 'one withdraw + one announce');
  const delta = updatesOf(c).slice(before);
  assert.deepEqual(delta.flatMap((u) => u.withdrawn.map(formatCidr)), ['10.200.0.6/32']);
  assert.deepEqual(delta.flatMap((u) => u.nlri.map(formatCidr)), ['10.200.0.7/32']);

  speaker.setAdvertisements([{ prefix: '10.200.0.5/32' }, { prefix: '10.200.0.7/32' }, { prefix: 'fd00:200::5/128' }]);
  c.socket.write(encodeUpdate({ attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: parseIp('10.10.12.1') }, nlri: [parseCidr('0.0.0.0/0')] }, { fourOctetAs: true }));
  await until(() => speaker.peers()[0]?.prefixesReceived === 1, 'the received route counted');
  const status = speaker.peers()[0]!;
  assert.equal(updatesOf(c).length, before + 2, 'the same set again sends nothing');
  assert.equal(status.state, 'Established');
  assert.equal(status.prefixesSent, 3);
  assert.equal(status.holdTimeSeconds, 9);
  assert.deepEqual(speaker.routesSentTo('127.0.0.1'), ['10.200.0.5/32', '10.200.0.7/32', 'fd00:200::5/128']);
  assert.throws(() => speaker.setAdvertisements([{ prefix: 'nope' }]), { code: 'BGP_BAD_ADVERTISEMENT' });
  assert.equal(speaker.peers()[0]?.prefixesSent, 3, 'a refused set changes nothing');
});

test('eight peers; one sends garbage and one floods UPDATEs; the others are not disturbed; stop() sends CEASE to all', async () => {
  const { speaker, peers } = await setup(8);
  speaker.setAdvertisements([{ prefix: '10.200.0.5/32', communities: ['65002:100'], largeCommunities: ['65002:1:2'] }]);
  const conns = await Promise.all(peers.map((p) => p.handshake()));
  await until(() => conns.every((c) => announced(c).includes('10.200.0.5/32')), 'the route on every peer');
  const [garbage, flood, ...calm] = conns as [PeerConnection, PeerConnection, ...PeerConnection[]];
  garbage.socket.write(Buffer.alloc(64, 0x55));
  const flap = (i: number): Uint8Array =>
    encodeUpdate({ attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: parseIp('10.10.12.1') }, nlri: [parseCidr(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`)] }, { fourOctetAs: true });
  const burst = Buffer.concat(Array.from({ length: 20_000 }, (_, i) => flap(i)));
  flood.socket.write(burst);
  speaker.setAdvertisements([{ prefix: '10.200.0.5/32', communities: ['65002:100'], largeCommunities: ['65002:1:2'] }, { prefix: '10.200.0.9/32' }]);
  await until(() => calm.every((c) => announced(c).includes('10.200.0.9/32')), 'the new route on the calm peers');
  await until(() => speaker.peers()[1]?.prefixesReceived === 20_000, 'the flood counted');
  await until(() => garbage.closed, 'the garbage peer dropped');
  const status = speaker.peers();
  assert.equal(status.filter((s) => s.state === 'Established').length, 7);
  assert.match(status[0]?.lastError ?? '', /NOTIFICATION 1\/1/);
  const u = updatesOf(calm[0]!).find((x) => x.nlri.some((p) => formatCidr(p) === '10.200.0.5/32'));
  assert.deepEqual(u?.attributes.communities, [65002 * 65536 + 100]);
  assert.deepEqual(u.attributes.largeCommunities, [{ globalAdministrator: 65002, localData1: 1, localData2: 2 }]);

  await speaker.stop('maintenance');
  for (const c of [flood, ...calm]) {
    await until(() => c.closed, 'closed');
    const n = c.received.find((m) => m.type === 'notification');
    assert.ok(n?.type === 'notification');
    assert.deepEqual([n.code, n.subcode, n.shutdownMessage], [ErrorCode.cease, CeaseSubcode.administrativeShutdown, 'maintenance']);
  }
  assert.ok(withdrawn(calm[0]!).length === 0, 'routes are dropped by the CEASE, not by withdrawals');
});

test('ROUTE-REFRESH makes the speaker send everything again', async () => {
  const { speaker, peers } = await setup(1);
  speaker.setAdvertisements([{ prefix: '10.200.0.5/32' }]);
  const c = await peers[0]!.handshake();
  await until(() => announced(c).length === 1, 'first announcement');
  c.socket.write(Buffer.from('ffffffffffffffffffffffffffffffff0017050001' + '0001', 'hex'));
  await until(() => announced(c).length === 2, 'announced again');
});

test('graceful restart: the first OPEN after a restart sets the R bit, later ones do not; F is set (forwarding survived)', async () => {
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002, restarted: true });
  const peer = await FakePeer.listen('127.0.0.31');
  cleanups.push(async () => {
    await speaker.stop();
    await peer.close();
  });
  speaker.addPeer({ address: peer.host, asn: 65001, port: peer.port, gracefulRestartSeconds: 60, families: ['ipv4'], timings: { connectRetrySeconds: 1, idleHoldMinSeconds: 0.05, idleHoldMaxSeconds: 0.05 } });
  const grOf = (c: PeerConnection): unknown => {
    const open = c.received.find((m) => m.type === 'open');
    return open?.type === 'open' ? open.capabilities.find((x) => x.kind === 'graceful-restart') : undefined;
  };
  const first = await peer.handshake();
  // F=1: the dataplane kept forwarding while the agent restarted; with F=0 a router must drop
  // our stale routes as soon as the session is back (RFC 4724 §4.2), a gap in service.
  assert.deepEqual(grOf(first), { kind: 'graceful-restart', restarting: true, notification: true, restartTimeSeconds: 60, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] });
  await until(() => speaker.peers()[0]?.state === 'Established', 'Established');
  first.socket.destroy(); // the router drops the session
  await until(() => peer.connections.length === 2 && peer.last.received.some((m) => m.type === 'open'), 'the second OPEN');
  assert.equal((grOf(peer.last) as { restarting: boolean }).restarting, false);
  assert.deepEqual((grOf(peer.last) as { families: unknown[] }).families, [{ afi: 1, safi: 1, forwardingPreserved: true }]);
  assert.throws(() => speaker.addPeer({ address: '192.0.2.9', asn: 1, gracefulRestartSeconds: 5000 }), { message: /1\.\.4095/ });
});

test('End-of-RIB waits for the first setAdvertisements, so a restart never flushes routes early', async () => {
  const { speaker, peers } = await setup(1);
  const c = await peers[0]!.handshake();
  await until(() => speaker.peers()[0]?.state === 'Established', 'Established');
  for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
  assert.equal(updatesOf(c).length, 0, 'nothing sent while the desired set is unknown');
  speaker.setAdvertisements([{ prefix: '10.200.0.5/32' }]);
  await until(() => updatesOf(c).filter(isEndOfRib).length === 2, 'End-of-RIB after the set');
  assert.deepEqual(announced(c), ['10.200.0.5/32']);
  assert.ok(!isEndOfRib(updatesOf(c)[0]!), 'the routes come before the End-of-RIB');
});

test('passive listener: a configured peer is accepted and served; a stranger is closed; removePeer sends CEASE', async () => {
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002, listen: { host: '127.0.0.41', port: 0 } });
  cleanups.push(() => speaker.stop());
  speaker.setAdvertisements([{ prefix: '10.200.0.5/32' }]);
  speaker.addPeer({ address: '127.0.0.42', asn: 65001, passive: true, families: ['ipv4'] });
  await until(() => speaker.listening !== undefined, 'the listener');
  const { port } = speaker.listening!;
  const dial = (from: string): PeerConnection => watch(connect({ host: '127.0.0.41', port, localAddress: from }));
  const stranger = dial('127.0.0.43');
  await until(() => stranger.closed, 'the stranger closed');
  assert.equal(stranger.received.length, 0);
  const c = dial('127.0.0.42');
  await until(() => c.received.some((m) => m.type === 'open'), 'our OPEN');
  c.socket.write(peerOpen());
  c.socket.write(encodeKeepalive());
  await until(() => announced(c).includes('10.200.0.5/32'), 'the route');
  assert.equal(speaker.peers()[0]?.state, 'Established');
  await speaker.removePeer('127.0.0.42');
  await until(() => c.closed, 'closed');
  const n = c.received.find((m) => m.type === 'notification');
  assert.deepEqual(n?.type === 'notification' ? [n.code, n.subcode, n.shutdownMessage] : [], [ErrorCode.cease, CeaseSubcode.administrativeShutdown, 'peer removed from vipgate configuration']);
  assert.deepEqual(speaker.peers(), []);
  await assert.rejects(speaker.removePeer('127.0.0.42'), { code: 'BGP_UNKNOWN_PEER' });
});
