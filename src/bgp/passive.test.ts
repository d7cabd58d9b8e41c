import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, test } from 'node:test';
import { parseCidr } from '../net/index.ts';
import { peerOpen, until, watch, type PeerConnection } from './fake-peer.fixture.ts';
import { passiveBind } from './passive.ts';
import { Speaker } from './speaker.ts';
import { encodeKeepalive } from './wire/notification.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

const announced = (c: PeerConnection): number => c.received.filter((m) => m.type === 'update').length;

test('a passive peer gets a listener of its own, says whom it waits for, and refuses and counts strangers', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002 });
  cleanups.push(() => speaker.stop());
  speaker.setAdvertisements([{ prefix: parseCidr('10.200.0.5/32') }]);
  speaker.addPeer({ address: '127.0.0.62', asn: 65001, passive: true, localAddress: '127.0.0.61', port, families: ['ipv4'] });
  assert.equal(speaker.peers()[0]?.state, 'Active');
  assert.equal(speaker.peers()[0]?.lastError, `passive: waiting for 127.0.0.62 to connect to 127.0.0.61:${port}`);
  const dial = (from: string): PeerConnection => watch(connect({ host: '127.0.0.61', port, localAddress: from }));
  let stranger = dial('127.0.0.63');
  // The listener may still be coming up: dial again until the stranger is heard and closed.
  await until(() => stranger.closed, 'the stranger closed');
  while (speaker.connectionsRejected().get('unconfigured-peer') === undefined) {
    stranger = dial('127.0.0.63');
    await until(() => stranger.closed, 'the stranger closed');
  }
  assert.equal(stranger.received.length, 0, 'nothing said to a stranger');
  assert.equal(speaker.connectionsRejected().get('unconfigured-peer'), 1);
  const c = dial('127.0.0.62');
  await until(() => c.received.some((m) => m.type === 'open'), 'our OPEN');
  c.socket.write(peerOpen());
  c.socket.write(encodeKeepalive());
  await until(() => announced(c) > 0, 'the route');
  assert.equal(speaker.peers()[0]?.state, 'Established');
  assert.equal(speaker.peers()[0]?.lastError, undefined);
  // The last passive peer gone, its listener is closed.
  await speaker.removePeer('127.0.0.62');
  const late = dial('127.0.0.62');
  await until(() => late.closed, 'the connection refused');
  assert.equal(speaker.connectionsRejected().get('unconfigured-peer'), 1, 'refused by the kernel, not accepted and closed');
});

test('passive peers are waited for on their localAddress, else on their family\'s wildcard, at their port', () => {
  assert.deepEqual(passiveBind({ address: '10.10.12.1', asn: 1 }), { host: '0.0.0.0', port: 179, ipv6Only: false });
  assert.deepEqual(passiveBind({ address: 'fd00:12::1', asn: 1, port: 1179 }), { host: '::', port: 1179, ipv6Only: true });
  assert.deepEqual(passiveBind({ address: '10.10.12.1', asn: 1, localAddress: '10.10.12.2' }), { host: '10.10.12.2', port: 179, ipv6Only: false });
});
