// The speaker's BFD hook (RFC 5882 §4.3) over real UDP on loopback: a router's BFD session that
// was Up going silent drops the BGP connection; one that never came Up changes nothing.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FakePeer, until } from '../fake-peer.fixture.ts';
import { Speaker } from '../speaker.ts';
import { BfdState } from './constants.ts';
import { BfdSession } from './session.ts';
import { UdpBfdTransport, type BfdTransport } from './socket.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const bfd = { minTxMs: 30, minRxMs: 30, multiplier: 3 };

/** The router's side of BFD, which can be frozen: it stops sending, as a `kill -STOP`ped daemon. */
function freezable(port: number): { transport: BfdTransport; frozen: { value: boolean } } {
  const inner = new UdpBfdTransport({ port, peerPort: port });
  const frozen = { value: false };
  return {
    frozen,
    transport: {
      open: async (local, peer, receive) => {
        const link = await inner.open(local, peer, (bytes) => {
          if (!frozen.value) receive(bytes);
        });
        return {
          send: (bytes) => {
            if (!frozen.value) link.send(bytes);
          },
          close: () => link.close(),
        };
      },
    },
  };
}

test('BFD Up with the peer; the peer going silent drops the BGP session within the detection time', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const peer = await FakePeer.listen('127.0.0.21');
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002, bfdTransport: new UdpBfdTransport({ port, peerPort: port }) });
  const router = freezable(port);
  const routerBfd = new BfdSession({ localAddress: '127.0.0.21', peerAddress: '127.0.0.1', config: bfd, transport: router.transport });
  cleanups.push(async () => {
    await speaker.stop();
    await routerBfd.stop();
    await peer.close();
  });
  await routerBfd.start();
  speaker.addPeer({ address: peer.host, asn: 65001, port: peer.port, bfd });
  const status = (): { state: string; bfdState?: string } => speaker.peers()[0]!;
  assert.equal(status().bfdState, 'Down', 'configured BFD shows Down until it comes Up');
  const c = await peer.handshake();
  await until(() => status().state === 'Established', 'Established');
  const deadline = Date.now() + 5000;
  while (status().bfdState !== 'Up' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(status().bfdState, 'Up');
  assert.equal(routerBfd.state, BfdState.up);
  assert.equal(c.closed, false);

  // Read through a call: assert.equal narrowed `c.closed` to false.
  const isClosed = (): boolean => c.closed;
  router.frozen.value = true;
  const frozenAt = Date.now();
  // Dropped by BFD, not by the hold timer (seconds): the reason says which; how fast is bench/ work.
  while (!isClosed() && Date.now() - frozenAt < 10_000) await new Promise((r) => setTimeout(r, 5));
  assert.equal(c.closed, true, 'the BGP connection was dropped');
  assert.match(speaker.peers()[0]!.lastError ?? '', /bfd: session Down \(detection-time-expired\)/);
});

test('a peer that never answers BFD keeps its BGP session (BFD only acts after having been Up)', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const peer = await FakePeer.listen('127.0.0.22');
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002, bfdTransport: new UdpBfdTransport({ port, peerPort: port }) });
  cleanups.push(async () => {
    await speaker.stop();
    await peer.close();
  });
  speaker.addPeer({ address: peer.host, asn: 65001, port: peer.port, bfd });
  const c = await peer.handshake();
  await until(() => speaker.peers()[0]!.state === 'Established', 'Established');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(speaker.peers()[0]!.state, 'Established');
  assert.equal(speaker.peers()[0]!.bfdState, 'Down');
  assert.equal(c.closed, false);
});

test('BFD timers out of range are a peer config error', async () => {
  const speaker = new Speaker({ routerId: '10.10.12.2', localAsn: 65002 });
  assert.throws(() => speaker.addPeer({ address: '192.0.2.1', asn: 65001, passive: true, bfd: { ...bfd, multiplier: 0 } }), { code: 'BGP_BAD_PEER_CONFIG', message: /192\.0\.2\.1: BFD multiplier 0 must be 1\.\.255/ });
  await speaker.stop();
});
