import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { describeConnectionError, noAnswerText } from './connection-errors.ts';

test('socket errors in words: by errno code and by strerror text (TCP MD5 connect through libc)', () => {
  const err = (code: string): Error => Object.assign(new Error(`connect ${code} 10.10.12.1:179`), { code });
  assert.equal(describeConnectionError(err('ECONNREFUSED'), '10.10.12.1', 179), 'connection refused by 10.10.12.1:179 (nothing listens there, or the router has no neighbor configured for this address)');
  assert.equal(describeConnectionError(err('EHOSTUNREACH'), '10.10.12.1', 179), 'no route to host 10.10.12.1 (host unreachable)');
  assert.equal(describeConnectionError(err('ETIMEDOUT'), 'fd00:12::1', 179), 'no answer from [fd00:12::1]:179 (connection timed out)');
  assert.match(describeConnectionError(new Error('connect(10.10.12.1:179): Connection refused'), '10.10.12.1', 179), /^connection refused by 10\.10\.12\.1:179/);
  assert.equal(describeConnectionError(new Error('something odd'), '10.10.12.1', 179), 'tcp 10.10.12.1:179: something odd');
  assert.equal(noAnswerText('10.10.12.1', 179, 30), 'no answer from 10.10.12.1:179 in 30 s (wrong TCP MD5 password on either side, or a firewall)');
});

test('a real refused connection on loopback reads "connection refused by"', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  const error = await new Promise<unknown>((resolve) => connect({ host: '127.0.0.1', port }).on('error', resolve));
  assert.match(describeConnectionError(error, '127.0.0.1', port), new RegExp(`^connection refused by 127\\.0\\.0\\.1:${port} `));
});
