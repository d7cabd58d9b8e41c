import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cInt, errnoText, libc, readCInt, Sys, timeval } from './libc.ts';

test('a refused call returns -1, and errno and errnoText say why', () => {
  const c = libc();
  assert.equal(c.socket(12345, Sys.SOCK_STREAM, 0), -1, 'no such address family');
  assert.equal(c.errno(), 97, 'EAFNOSUPPORT');
  assert.equal(errnoText(), 'Address family not supported by protocol (errno 97)');
  assert.equal(errnoText(19), 'No such device (errno 19)');
});

test('an int set with setsockopt reads back with getsockopt, and intptr_t returns are numbers', () => {
  const c = libc();
  const fd = c.socket(Sys.AF_INET, 2 /* SOCK_DGRAM */ | Sys.SOCK_CLOEXEC, 0);
  assert.ok(fd >= 0, errnoText());
  try {
    assert.equal(c.setsockopt(fd, 0 /* IPPROTO_IP */, 2 /* IP_TTL */, cInt(7), 4), 0, errnoText());
    const value = cInt(0);
    assert.equal(c.getsockopt(fd, 0, 2, value, cInt(4)), 0, errnoText());
    assert.equal(readCInt(value), 7);
    assert.equal(c.setsockopt(fd, Sys.SOL_SOCKET, Sys.SO_RCVTIMEO, timeval(1500), 16), 0, errnoText());
    const got = c.recv(fd, Buffer.alloc(16), 16, Sys.MSG_DONTWAIT);
    assert.equal(typeof got, 'number');
    assert.equal(got, -1);
    assert.equal(c.errno(), Sys.EAGAIN, 'nothing queued');
  } finally {
    assert.equal(c.close(fd), 0);
  }
});

test('timeval splits milliseconds into seconds and microseconds', () => {
  const t = timeval(1500);
  assert.equal(t.length, 16);
  assert.equal(t.readBigInt64LE(0), 1n);
  assert.equal(t.readBigInt64LE(8), 500_000n);
});
