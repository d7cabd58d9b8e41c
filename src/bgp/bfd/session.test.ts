import assert from 'node:assert/strict';
import { test } from 'node:test';
import { realTimers } from '../runtime.ts';
import { BfdState } from './constants.ts';
import { BfdError, BfdErrorCode } from './errors.ts';
import { controlPacketOf, initialBfdState } from './fsm.ts';
import { decodeControlPacket, encodeControlPacket } from './packet.ts';
import { BfdSession, checkBfdConfig } from './session.ts';
import { UdpBfdTransport, type BfdReceiver, type BfdTransport } from './socket.ts';

/** Two endpoints wired back to back; `cut` drops everything one side sends (a frozen node). */
function wire() {
  const receivers = new Map<string, BfdReceiver>(); // local address → its session's receive
  const cut = new Set<string>();
  const sent: { from: string; bytes: Uint8Array }[] = [];
  const transport: BfdTransport = {
    open: (local, peer, receive) => {
      receivers.set(local, receive);
      return Promise.resolve({
        send: (bytes) => {
          sent.push({ from: local, bytes });
          if (!cut.has(local)) queueMicrotask(() => receivers.get(peer)?.(bytes));
        },
        close: () => Promise.resolve(void receivers.delete(local)),
      });
    },
  };
  return { transport, cut, sent };
}

/** Read through a call: assert.equal narrows the getter's type for the rest of the test. */
const stateOf = (s: BfdSession): BfdState => s.state;
const config = { minTxMs: 300, minRxMs: 300, multiplier: 3 };

test('two sessions come Up; one side going silent takes the other Down within the detection time', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const w = wire();
  const changes: string[] = [];
  let seed = 0;
  const random = (): number => ((seed = (seed * 9301 + 49297) % 233280) / 233280);
  const a = new BfdSession({ localAddress: '10.0.0.1', peerAddress: '10.0.0.2', config, transport: w.transport, timers: realTimers, random, onStateChange: (c) => changes.push(`${c.from}>${c.to}:${c.reason}`) });
  const b = new BfdSession({ localAddress: '10.0.0.2', peerAddress: '10.0.0.1', config, transport: w.transport, timers: realTimers, random });
  await a.start();
  await b.start();
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  await flush();
  assert.equal(a.state, BfdState.up);
  assert.equal(b.state, BfdState.up);
  // Up: both send at 300 ms less jitter (225..300 ms), so 10 s carry 33..45 packets each.
  const before = w.sent.filter((s) => s.from === '10.0.0.1').length;
  for (let i = 0; i < 100; i++) {
    t.mock.timers.tick(100);
    await flush();
  }
  const sentByA = w.sent.filter((s) => s.from === '10.0.0.1').length - before;
  assert.ok(sentByA >= 33 && sentByA <= 45, `a sent ${sentByA} packets in 10 s`);
  assert.equal(a.state, BfdState.up);
  w.cut.add('10.0.0.2');
  let downAfterMs = 0;
  while (stateOf(a) === BfdState.up && downAfterMs < 5000) {
    t.mock.timers.tick(10);
    downAfterMs += 10;
    await flush();
  }
  assert.equal(a.state, BfdState.down);
  assert.ok(downAfterMs <= 900 && downAfterMs > 600, `down after ${downAfterMs} ms (3 × 300 ms since the last packet)`);
  assert.deepEqual(changes.slice(-1), [`${BfdState.up}>${BfdState.down}:detection-time-expired`]);
  // a tells b it is Down (diag 1); b, still hearing a, follows it down (diag 3).
  const last = decodeControlPacket(w.sent.filter((s) => s.from === '10.0.0.1').at(-1)!.bytes);
  assert.equal(last.state, BfdState.down);
  assert.equal(b.state, BfdState.down);
  // b comes back: Up again.
  w.cut.delete('10.0.0.2');
  for (let i = 0; i < 30 && a.state !== BfdState.up; i++) {
    t.mock.timers.tick(100);
    await flush();
  }
  assert.equal(a.state, BfdState.up);
  await a.stop();
  await b.stop();
  assert.equal(decodeControlPacket(w.sent.filter((s) => s.from === '10.0.0.1').at(-1)!.bytes).state, BfdState.adminDown, 'stop announces AdminDown');
});

test('garbage is counted and discarded, not thrown', async () => {
  const w = wire();
  const a = new BfdSession({ localAddress: '10.0.0.1', peerAddress: '10.0.0.2', config, transport: w.transport });
  await a.start();
  a.receive(Uint8Array.from([1, 2, 3]));
  assert.equal(a.discarded, 1);
  assert.equal(a.state, BfdState.down);
  await a.stop();
});

test('timers that cannot go on the wire are refused with what is allowed', () => {
  for (const bad of [{ ...config, minTxMs: 0 }, { ...config, minRxMs: 1.5 }, { ...config, multiplier: 0 }, { ...config, multiplier: 256 }]) {
    assert.throws(() => checkBfdConfig(bad), (e: unknown) => e instanceof BfdError && e.code === BfdErrorCode.badTimers && /must be/.test(e.message));
  }
});

test('over UDP on loopback: sessions come Up', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const transport = new UdpBfdTransport({ port, peerPort: port });
  const a = new BfdSession({ localAddress: '127.0.0.1', peerAddress: '127.0.0.2', config, transport });
  const b = new BfdSession({ localAddress: '127.0.0.2', peerAddress: '127.0.0.1', config, transport });
  const { createSocket } = await import('node:dgram');
  try {
    await a.start();
    await b.start();
    const deadline = Date.now() + 3000;
    while ((a.state !== BfdState.up || b.state !== BfdState.up) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(a.state, BfdState.up);
    assert.equal(b.state, BfdState.up);
    // A second session from the same local address to the same peer is refused.
    await assert.rejects(transport.open('127.0.0.1', '127.0.0.2', () => undefined), (e: unknown) => e instanceof BfdError && e.code === BfdErrorCode.socket);
  } finally {
    await a.stop();
    await b.stop();
  }
  // Everything closed: the receive port is free again.
  const probe = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.bind(port, '127.0.0.1', () => resolve());
  });
  probe.close();
});

test('over UDP: packets leave from one source port in 49152–65535 for the whole session (RFC 5881 §4)', async () => {
  const { createSocket } = await import('node:dgram');
  const port = 40000 + Math.floor(Math.random() * 10000);
  const peer = createSocket('udp4');
  const sourcePorts: number[] = [];
  peer.on('message', (_bytes, rinfo) => sourcePorts.push(rinfo.port));
  await new Promise<void>((resolve) => peer.bind(port, '127.0.0.2', () => resolve()));
  const transport = new UdpBfdTransport({ port: port + 1, peerPort: port });
  const link = await transport.open('127.0.0.1', '127.0.0.2', () => undefined);
  try {
    for (let i = 0; i < 3; i++) link.send(new Uint8Array(24));
    const deadline = Date.now() + 2000;
    while (sourcePorts.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await link.close();
    peer.close();
  }
  assert.equal(sourcePorts.length, 3);
  assert.equal(new Set(sourcePorts).size, 1);
  assert.ok(sourcePorts[0]! >= 49152 && sourcePorts[0]! <= 65535, `source port ${sourcePorts[0]}`);
});

test('over UDP: a session opened while the last one on the same address closes gets a working receiver', async () => {
  const { createSocket } = await import('node:dgram');
  const port = 40000 + Math.floor(Math.random() * 10000);
  const transport = new UdpBfdTransport({ port, peerPort: port });
  const first = await transport.open('127.0.0.1', '127.0.0.2', () => undefined);
  const closing = first.close();
  const got: Uint8Array[] = [];
  const second = await transport.open('127.0.0.1', '127.0.0.3', (bytes) => got.push(bytes));
  await closing;
  const sender = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.3', () => resolve()));
    sender.send(new Uint8Array([1, 2, 3]), port, '127.0.0.1');
    const deadline = Date.now() + 2000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  } finally {
    sender.close();
    await second.close();
  }
  assert.deepEqual(got.map((b) => [...b]), [[1, 2, 3]]);
});

test('a peer asking for Required Min RX 0 gets no periodic packets (§6.8.7), but a Poll is still answered', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const sent: Uint8Array[] = [];
  const transport: BfdTransport = { open: () => Promise.resolve({ send: (b) => void sent.push(b), close: () => Promise.resolve() }) };
  const a = new BfdSession({ localAddress: '10.0.0.1', peerAddress: '10.0.0.2', config, transport, timers: realTimers });
  await a.start();
  const quiet = encodeControlPacket({ ...controlPacketOf(initialBfdState(7, { desiredMinTxUs: 300_000, requiredMinRxUs: 0, detectMult: 3 }), false), requiredMinRxUs: 0 });
  a.receive(quiet); // Down → Init: one packet for the state change
  const before = sent.length;
  for (let i = 0; i < 10; i++) {
    t.mock.timers.tick(500);
    a.receive(quiet); // the peer stays alive (Init stays Init): no state change to announce
  }
  assert.equal(a.state, BfdState.init);
  assert.equal(sent.length, before, 'nothing sent periodically in 5 s');
  a.receive(encodeControlPacket({ ...decodeControlPacket(quiet), poll: true }));
  assert.equal(sent.length, before + 1);
  assert.equal(decodeControlPacket(sent.at(-1)!).final, true);
  t.mock.timers.reset();
  await a.stop();
});
