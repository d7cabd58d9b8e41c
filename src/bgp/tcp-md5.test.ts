import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { checkTcpMd5Password, serverFd, setTcpMd5Key, tcpMd5Connect } from './tcp-md5.ts';

// A loopback listener that only accepts SYNs from 127.0.0.1 signed with "s3cret".
const accepted: Socket[] = [];
const server = createServer((s) => {
  accepted.push(s);
  s.on('data', (d) => s.write(d)); // echo
});
let port = 0;
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  setTcpMd5Key(serverFd(server), '127.0.0.1', 's3cret');
});
after(async () => {
  for (const s of accepted) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

test('a signed connection with the right key is accepted and carries data both ways', async () => {
  const socket = await tcpMd5Connect('s3cret')({ host: '127.0.0.1', port });
  try {
    const echoed = await new Promise<string>((resolve) => {
      socket.once('data', (d: Buffer) => resolve(d.toString()));
      socket.write('hello');
    });
    assert.equal(echoed, 'hello');
    assert.equal(socket.remotePort, port);
  } finally {
    socket.destroy();
  }
});

test('a wrong key never connects: the kernel drops the SYNs', async () => {
  const before = accepted.length;
  await assert.rejects(tcpMd5Connect('wrong', { timeoutMs: 600 })({ host: '127.0.0.1', port }), { code: 'BGP_TCP_MD5', message: /timed out/ });
  assert.equal(accepted.length, before);
});

test('a closed port looks the same as a wrong key: its unsigned RST is dropped (RFC 2385), so the attempt times out', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  await assert.rejects(tcpMd5Connect('x', { timeoutMs: 300 })({ host: '127.0.0.1', port: closedPort }), { message: /timed out after 300 ms/ });
  await assert.rejects(tcpMd5Connect('x')({ host: '127.0.0.1', port, localAddress: 'fd00::1' }), { message: /not of the peer's family/ });
});

test('an abandoned attempt stops polling and closes its socket at once', async () => {
  const abort = new AbortController();
  // The connect timeout is 30 s: "abandoned" well before it means the abort, not the timer, ended it.
  const attempt = tcpMd5Connect('wrong', { timeoutMs: 30_000 })({ host: '127.0.0.1', port, signal: abort.signal });
  setTimeout(() => abort.abort(), 50);
  const start = performance.now();
  await assert.rejects(attempt, { message: /abandoned/ });
  assert.ok(performance.now() - start < 15_000);
});

test('passwords must be 1..80 bytes', () => {
  assert.equal(checkTcpMd5Password('x'.repeat(80)), undefined);
  assert.match(checkTcpMd5Password('x'.repeat(81)) ?? '', /1\.\.80 bytes; this one has 81/);
  assert.throws(() => tcpMd5Connect(''), { code: 'BGP_TCP_MD5' });
});
