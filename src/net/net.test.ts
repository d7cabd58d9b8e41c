import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  NetErrorCode,
  cidrContains,
  cidrCovers,
  cidrSize,
  formatCidr,
  formatIp,
  ipFromBytes,
  ipToBytes,
  parseCidr,
  parseIp,
  parseRange,
  rangeSize,
  rangeToCidrs,
  type IpAddress,
} from './index.ts';

test('IPv4 parses and formats', () => {
  assert.equal(parseIp('10.200.0.5').value, 0x0ac80005n);
  assert.equal(formatIp(parseIp('10.200.0.5')), '10.200.0.5');
  for (const bad of ['10.200.0', '10.200.0.256', '10.200.00.5', '1.2.3.4.5', '', ' 1.2.3.4', '1.2.3.-4']) {
    assert.throws(() => parseIp(bad), { code: NetErrorCode.badAddress }, bad);
  }
});

test('IPv6 parses and formats canonically (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['fd00:200::5', 'fd00:200::5'],
    ['FD00:0200:0000:0000:0000:0000:0000:0005', 'fd00:200::5'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:10.200.0.5', '::ffff:ac8:5'],
  ];
  for (const [input, canonical] of cases) assert.equal(formatIp(parseIp(input)), canonical, input);
  for (const bad of ['1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1:2:3:4:5:6:7', ':1:2:3:4:5:6:7']) {
    assert.throws(() => parseIp(bad), { code: NetErrorCode.badAddress }, bad);
  }
});

test('CIDRs: parse, contain, size; host bits set is refused with the network named', () => {
  const pool = parseCidr('10.200.0.0/16');
  assert.equal(cidrSize(pool), 65536n);
  assert.ok(cidrContains(pool, parseIp('10.200.255.255')));
  assert.ok(!cidrContains(pool, parseIp('10.201.0.0')));
  assert.ok(!cidrContains(pool, parseIp('fd00::1')));
  assert.ok(cidrCovers(pool, parseCidr('10.200.0.0/24')));
  assert.equal(formatCidr(parseCidr('10.200.0.1')), '10.200.0.1/32');
  assert.throws(() => parseCidr('10.200.0.1/24'), /network is 10\.200\.0\.0\/24/);
  assert.equal(formatCidr(parseCidr('10.200.0.1/24', { allowHostBits: true })), '10.200.0.0/24');
  assert.throws(() => parseCidr('10.0.0.0/33'), { code: NetErrorCode.badPrefix });
  assert.throws(() => parseCidr('fd00::/129'), { code: NetErrorCode.badPrefix });
  assert.equal(formatCidr(parseCidr('fd00:200::/64')), 'fd00:200::/64');
});

test('ranges: inclusive, ordered, one family', () => {
  assert.equal(rangeSize(parseRange('10.200.0.10-10.200.0.20')), 11n);
  assert.throws(() => parseRange('10.200.0.20-10.200.0.10'), { code: NetErrorCode.badRange });
  assert.throws(() => parseRange('10.200.0.1-fd00::1'), { code: NetErrorCode.familyMismatch });
});

test('rangeToCidrs: the fewest CIDRs covering exactly the range', () => {
  assert.deepEqual(rangeToCidrs(parseRange('10.201.0.10-10.201.0.20')), ['10.201.0.10/31', '10.201.0.12/30', '10.201.0.16/30', '10.201.0.20/32']);
  assert.deepEqual(rangeToCidrs(parseRange('10.200.0.0-10.200.255.255')), ['10.200.0.0/16']);
  assert.deepEqual(rangeToCidrs(parseRange('10.200.0.5-10.200.0.5')), ['10.200.0.5/32']);
  assert.deepEqual(rangeToCidrs(parseRange('fd00:200::-fd00:200::ffff:ffff:ffff:ffff')), ['fd00:200::/64']);
});

const anyAddress: fc.Arbitrary<IpAddress> = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((value) => ({ family: 4 as const, value })),
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((value) => ({ family: 6 as const, value })),
);

test('property: format then parse is the identity; bytes round-trip', () => {
  fc.assert(
    fc.property(anyAddress, (a) => {
      assert.deepEqual(parseIp(formatIp(a)), a);
      assert.deepEqual(ipFromBytes(ipToBytes(a)), a);
    }),
  );
});
