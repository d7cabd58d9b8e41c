import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { median, pairedRatio, percentile } from './stats.ts';
import { parseWrk, wrkArgv } from './wrk.ts';

test('median of odd and even counts', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
});

test('median lies between min and max, whatever the order', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true, min: -1e9, max: 1e9 }), { minLength: 1 }), (xs) => {
      const m = median(xs);
      return m >= Math.min(...xs) && m <= Math.max(...xs);
    }),
  );
});

test('nearest-rank p95 of 1..20 is 19, p100 the maximum', () => {
  const xs = Array.from({ length: 20 }, (_, i) => 20 - i);
  assert.equal(percentile(xs, 95), 19);
  assert.equal(percentile(xs, 100), 20);
});

test('paired ratio pairs rounds: a machine slowing down between rounds cancels out', () => {
  // Ours is 0.9× the reference in every round while the machine halves its speed.
  assert.equal(pairedRatio([90, 45, 22.5], [100, 50, 25]), 0.9);
  assert.throws(() => pairedRatio([1], [1, 2]), RangeError);
});

test('parseWrk reads rate, totals and errors from a real wrk 4 report', () => {
  const out = `Running 2s test @ http://10.200.0.5:80/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.62ms  452.51us   8.12ms   80.12%
    Req/Sec     9.81k   603.44    10.52k    85.00%
  19522 requests in 2.00s, 1.64MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 1
Requests/sec:   9749.58
Transfer/sec:    838.71KB
`;
  assert.deepEqual(parseWrk(out), { requestsPerSecond: 9749.58, requests: 19522, errors: 6 });
  assert.throws(() => parseWrk('unable to connect to 10.200.0.5:80 Connection refused\n'), /Requests\/sec/);
});

test('wrkArgv asks for a new connection per request only in newconn mode', () => {
  assert.ok(wrkArgv({ url: 'http://a/', seconds: 2, connections: 4, newConnections: true }).includes('Connection: close'));
  assert.ok(!wrkArgv({ url: 'http://a/', seconds: 2, connections: 4, newConnections: false }).includes('Connection: close'));
});
