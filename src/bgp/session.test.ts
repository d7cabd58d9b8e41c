import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { FakePeer, peerOpen, until, watch } from './fake-peer.fixture.ts';
import type { Negotiated, SessionParameters } from './negotiate.ts';
import { Session, type SessionHandlers } from './session.ts';
import { CeaseSubcode, ErrorCode, HeaderErrorSubcode } from './wire/constants.ts';
import { encodeKeepalive } from './wire/notification.ts';

const params: SessionParameters = { localAsn: 65002, peerAsn: 65001, routerId: '10.10.12.2', holdTimeSeconds: 90, families: ['ipv4', 'ipv6'] };

function recorder(): SessionHandlers & { ups: Negotiated[]; downs: number } {
  const r = {
    ups: [] as Negotiated[],
    downs: 0,
    onEstablished: (n: Negotiated) => r.ups.push(n),
    onDown: () => {
      r.downs++;
    },
    onUpdate: () => undefined,
    onRouteRefresh: () => undefined,
  };
  return r;
}

let peer: FakePeer;
let session: Session | undefined;
beforeEach(async () => {
  peer = await FakePeer.listen();
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
});
afterEach(async () => {
  mock.timers.reset();
  await session?.stop();
  session = undefined;
  await peer.close();
});

async function established(h = recorder(), over: Partial<SessionParameters> = {}): Promise<{ session: Session; h: typeof h }> {
  session = new Session({ params: { ...params, ...over }, peerAddress: '127.0.0.1', port: peer.port, handlers: h });
  session.start();
  await peer.handshake();
  const s = session;
  await until(() => s.state === 'Established', 'Established');
  return { session: s, h };
}

test('connects, exchanges OPENs and reaches Established with the negotiated timers', async () => {
  const { session: s, h } = await established();
  const open = peer.last.received[0];
  assert.equal(open?.type, 'open');
  assert.equal(open.myAutonomousSystem, 65002);
  assert.equal(open.holdTimeSeconds, 90);
  assert.deepEqual(h.ups.map((n) => [n.holdTimeSeconds, n.keepaliveSeconds, n.families.join()]), [[9, 3, 'ipv4,ipv6']]);
  assert.ok(s.establishedAt !== undefined);
});

test('sends a KEEPALIVE every hold/3 seconds', async () => {
  await established();
  const keepalives = (): number => peer.last.received.filter((m) => m.type === 'keepalive').length;
  // The one sent on receipt of the peer's OPEN may still be in flight.
  await until(() => keepalives() === 1, 'the OpenConfirm keepalive');
  const before = keepalives();
  mock.timers.tick(2999);
  for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
  assert.equal(keepalives(), before, 'not before 3 s');
  mock.timers.tick(1);
  await until(() => keepalives() === before + 1, 'a keepalive after 3 s');
  mock.timers.tick(3000);
  await until(() => keepalives() === before + 2, 'another after 6 s');
});

test('hold timer expiry: NOTIFICATION 4, session down, then a new connection after the backoff', async () => {
  const { session: s, h } = await established();
  // The peer answers nothing for 9 s (our own keepalives do not count).
  for (let i = 0; i < 3; i++) mock.timers.tick(3000);
  await until(() => s.state === 'Idle', 'Idle');
  const first = peer.last;
  await until(() => first.received.some((m) => m.type === 'notification'), 'the NOTIFICATION');
  const n = first.received.find((m) => m.type === 'notification');
  assert.equal(n?.type === 'notification' ? n.code : -1, ErrorCode.holdTimerExpired);
  assert.equal(h.downs, 1);
  assert.equal(s.lastError, 'sent NOTIFICATION 4/0 Hold Timer Expired: nothing heard from the peer in 9 s');
  mock.timers.tick(1000); // idle hold (backoff) of 1 s
  await until(() => peer.connections.length === 2, 'a second connection');
});

test('garbage from the peer gets NOTIFICATION 1/1 and the connection is closed', async () => {
  const { session: s } = await established();
  peer.last.socket.write(Buffer.alloc(40, 0x41));
  await until(() => s.state === 'Idle', 'Idle');
  await until(() => peer.last.closed, 'close');
  const n = peer.last.received.find((m) => m.type === 'notification');
  assert.deepEqual(n?.type === 'notification' ? [n.code, n.subcode] : [], [ErrorCode.messageHeader, HeaderErrorSubcode.connectionNotSynchronized]);
});

test('stop() sends Cease/Administrative Shutdown with the message and does not reconnect', async () => {
  const { session: s } = await established();
  await s.stop('vipgate agent stopping');
  session = undefined;
  await until(() => peer.last.closed, 'close');
  const n = peer.last.received.find((m) => m.type === 'notification');
  assert.ok(n?.type === 'notification');
  assert.deepEqual([n.code, n.subcode, n.shutdownMessage], [ErrorCode.cease, CeaseSubcode.administrativeShutdown, 'vipgate agent stopping']);
  mock.timers.tick(120_000);
  await new Promise((r) => setImmediate(r));
  assert.equal(peer.connections.length, 1);
});

test('connection refused: retries with a doubling backoff', async () => {
  // A port with nobody listening: bind one, note it, close it.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const attempts: number[] = [];
  const s = new Session({
    params,
    peerAddress: '127.0.0.1',
    port,
    handlers: recorder(),
    connect: (t) => {
      attempts.push(Date.now());
      return connect(t.port, t.host);
    },
  });
  session = s;
  s.start();
  await until(() => attempts.length === 1 && s.state === 'Idle', 'the first failure');
  mock.timers.tick(1000);
  await until(() => attempts.length === 2 && s.state === 'Idle', 'the second failure');
  mock.timers.tick(1999);
  for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
  assert.equal(attempts.length, 2, 'no retry before the doubled backoff');
  mock.timers.tick(1);
  await until(() => attempts.length === 3, 'the third attempt');
  assert.deepEqual(attempts.slice(1).map((t, i) => t - attempts[i]!), [1000, 2000]);
  assert.match(s.lastError ?? '', /^connection refused by 127\.0\.0\.\d+:\d+ /);
});

/** A listener that hands every connection to the session, as the speaker does. */
async function acceptor(get: () => Session): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((socket: Socket) => get().accept(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test("passive: accepts the peer's connection and reaches Established", async () => {
  const s = new Session({ params, peerAddress: '127.0.0.1', passive: true, handlers: recorder() });
  session = s;
  const server = await acceptor(() => s);
  try {
    s.start();
    assert.equal(s.state, 'Active');
    const c = watch(await FakePeer.dial(server.port));
    await until(() => c.received.some((m) => m.type === 'open'), 'our OPEN');
    c.socket.write(peerOpen());
    c.socket.write(encodeKeepalive());
    await until(() => s.state === 'Established', 'Established');
    c.socket.destroy();
  } finally {
    await server.close();
  }
});

for (const [peerId, keeps] of [['10.10.12.9', 'incoming'], ['10.10.12.1', 'outgoing']] as const) {
  test(`collision (RFC 4271 §6.8): peer id ${peerId} vs ours 10.10.12.2 keeps the ${keeps} connection`, async () => {
    const s = new Session({ params, peerAddress: '127.0.0.1', port: peer.port, handlers: recorder() });
    session = s;
    const server = await acceptor(() => s);
    try {
      s.start();
      await until(() => peer.connections.length === 1 && peer.last.received.length > 0, 'our OPEN on the outgoing connection');
      const outgoing = peer.last;
      const incoming = watch(await FakePeer.dial(server.port));
      await until(() => incoming.received.some((m) => m.type === 'open'), 'our OPEN on the incoming connection');
      const open = peerOpen({ bgpIdentifier: peerId });
      outgoing.socket.write(open);
      incoming.socket.write(open);
      const [kept, dropped] = keeps === 'incoming' ? [incoming, outgoing] : [outgoing, incoming];
      await until(() => dropped.closed, 'the losing connection to close');
      const n = dropped.received.find((m) => m.type === 'notification');
      assert.deepEqual(n?.type === 'notification' ? [n.code, n.subcode] : [], [ErrorCode.cease, CeaseSubcode.connectionCollisionResolution]);
      kept.socket.write(encodeKeepalive());
      await until(() => s.state === 'Established', 'Established on the kept connection');
      assert.ok(!kept.closed);
      incoming.socket.destroy();
    } finally {
      await server.close();
    }
  });
}

test('lastError in words: a connect attempt with no answer (MD5 mismatch, firewall) and a NOTIFICATION we send', async () => {
  const s = new Session({
    params,
    peerAddress: '127.0.0.1',
    port: 179,
    timings: { connectRetrySeconds: 5, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 1 },
    handlers: recorder(),
    // Every SYN dropped: the attempt neither succeeds nor fails until the retry timer gives up.
    connect: (t) => new Promise((_resolve, reject) => t.signal?.addEventListener('abort', () => reject(new Error('abandoned')))),
  });
  session = s;
  s.start();
  assert.equal(s.lastError, undefined);
  mock.timers.tick(5000);
  assert.equal(s.lastError, 'no answer from 127.0.0.1:179 in 5 s (wrong TCP MD5 password on either side, or a firewall)');
  await s.stop();

  const { session: up } = await established();
  peer.last.socket.write(Uint8Array.of(...new Array<number>(16).fill(0xff), 0, 19, 9)); // message type 9: unknown
  await until(() => up.state === 'Idle', 'the session reset');
  assert.match(up.lastError ?? '', /^sent NOTIFICATION 1\/3 Message Header Error \/ Bad Message Type: .+/);
});
