import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pool } from '../model/index.ts';
import { Allocator, IpamErrorCode, type AllocationRequest, type AllocationResult } from './index.ts';

function pool(name: string, addresses: string[], more: Partial<Pool> = {}): Pool {
  return {
    name,
    addresses,
    autoAssign: true,
    avoidBuggyIPs: false,
    allowExternalIPs: false,
    namespaces: [],
    reserved: [],
    priority: 0,
    ...more,
  };
}

function req(service: string, more: Partial<AllocationRequest> = {}): AllocationRequest {
  return {
    service,
    namespace: service.split('/')[0]!,
    families: [4],
    requested: [],
    ports: [{ port: 80, protocol: 'tcp' }],
    ...more,
  };
}

function addresses(result: AllocationResult): readonly string[] {
  if (!result.ok) assert.fail(`expected addresses, got ${result.error.code}: ${result.error.message}`);
  return result.addresses;
}

function errorOf(result: AllocationResult): { code: string; message: string; holder: string | undefined } {
  if (result.ok) assert.fail(`expected an error, got ${result.addresses.join(', ')}`);
  return result.error;
}

test('allocates the first free address, then the next', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/24'])]);
  assert.deepEqual(addresses(ipam.allocate(req('shop/web'))), ['10.200.0.1']);
  assert.deepEqual(addresses(ipam.allocate(req('shop/api'))), ['10.200.0.2']);
});

test('a /30 gives its two host addresses, then reports exhaustion on that service only', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/30'])]);
  assert.deepEqual(addresses(ipam.allocate(req('a/one'))), ['10.200.0.1']);
  assert.deepEqual(addresses(ipam.allocate(req('a/two'))), ['10.200.0.2']);
  const error = errorOf(ipam.allocate(req('a/three')));
  assert.equal(error.code, IpamErrorCode.poolExhausted);
  assert.equal(error.message, 'service a/three: pool default (10.200.0.0/30) has no free IPv4 address: 2 of 2 in use');
  // The others keep their addresses; releasing one makes room for the waiting service.
  assert.deepEqual(Object.fromEntries(ipam.assignments()), { 'a/one': ['10.200.0.1'], 'a/two': ['10.200.0.2'] });
  ipam.release('a/one');
  assert.deepEqual(addresses(ipam.allocate(req('a/three'))), ['10.200.0.1']);
});

test('skips the gateway and other reserved addresses, and refuses them when requested', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/24'], { reserved: ['10.200.0.1', '10.200.0.2'] })]);
  assert.deepEqual(addresses(ipam.allocate(req('a/web'))), ['10.200.0.3']);
  for (const [address, why] of [
    ['10.200.0.1', /pool default reserves it/],
    ['10.200.0.0', /network address of 10\.200\.0\.0\/24/],
    ['10.200.0.255', /broadcast address of 10\.200\.0\.0\/24/],
  ] as const) {
    const error = errorOf(ipam.allocate(req('a/asks', { requested: [address] })));
    assert.equal(error.code, IpamErrorCode.reserved, address);
    assert.match(error.message, why);
  }
  assert.deepEqual(ipam.poolStats(), [{ pool: 'default', family: 4, total: 252n, used: 1, free: 251n }]);
});

test('a first-last range has no implicit reserve; avoidBuggyIPs skips .0 and .255', () => {
  const plain = new Allocator([pool('r', ['10.200.1.0-10.200.1.1'])]);
  assert.deepEqual(addresses(plain.allocate(req('a/x'))), ['10.200.1.0']);
  const careful = new Allocator([pool('r', ['10.200.0.254-10.200.1.1'], { avoidBuggyIPs: true })]);
  assert.deepEqual(addresses(careful.allocate(req('a/x'))), ['10.200.0.254']);
  assert.deepEqual(addresses(careful.allocate(req('a/y'))), ['10.200.1.1']);
  assert.equal(errorOf(careful.allocate(req('a/z'))).code, IpamErrorCode.poolExhausted);
  assert.equal(careful.poolStats()[0]!.total, 2n);
});

test('IPv6 pools skip the Subnet-Router anycast address; a /64 is usable without a bitmap', () => {
  const ipam = new Allocator([pool('v6', ['fd00:200::/64'])]);
  assert.deepEqual(addresses(ipam.allocate(req('a/x', { families: [6] }))), ['fd00:200::1']);
  assert.equal(errorOf(ipam.allocate(req('a/y', { families: [6], requested: ['fd00:200::'] }))).code, IpamErrorCode.reserved);
  assert.deepEqual(ipam.poolStats(), [{ pool: 'v6', family: 6, total: 2n ** 64n - 1n, used: 1, free: 2n ** 64n - 2n }]);
});

test('keeps a requested address, also from a pool that does not auto-assign', () => {
  const ipam = new Allocator([pool('auto', ['10.200.0.0/24']), pool('manual', ['10.201.0.0/24'], { autoAssign: false })]);
  assert.deepEqual(addresses(ipam.allocate(req('a/x', { requested: ['10.200.0.77'] }))), ['10.200.0.77']);
  assert.deepEqual(addresses(ipam.allocate(req('a/y', { requested: ['10.201.0.5'] }))), ['10.201.0.5']);
  const outside = errorOf(ipam.allocate(req('a/z', { requested: ['192.0.2.1'] })));
  assert.equal(outside.code, IpamErrorCode.notInPool);
  assert.match(outside.message, /192\.0\.2\.1: it is in no pool; pools for namespace a: auto, manual/);
  // A later automatic allocation steps around the requested address.
  assert.deepEqual(addresses(ipam.allocate(req('a/w'))), ['10.200.0.1']);
});

test('allocation is idempotent and a kept address never moves', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/24'])]);
  assert.deepEqual(addresses(ipam.allocate(req('a/x'))), ['10.200.0.1']);
  assert.deepEqual(addresses(ipam.allocate(req('a/y'))), ['10.200.0.2']);
  ipam.release('a/x');
  // .1 is free now, but a/y keeps .2.
  assert.deepEqual(addresses(ipam.allocate(req('a/y', { ports: [{ port: 443, protocol: 'tcp' }] }))), ['10.200.0.2']);
  assert.deepEqual(addresses(ipam.allocate(req('a/z'))), ['10.200.0.1']);
});

test('two services share a VIP with a sharing key when ports differ', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/24'])]);
  const dns = { sharingKey: 'dns' };
  assert.deepEqual(addresses(ipam.allocate(req('a/dns-tcp', { ...dns, ports: [{ port: 53, protocol: 'tcp' }] }))), ['10.200.0.1']);
  assert.deepEqual(addresses(ipam.allocate(req('a/other'))), ['10.200.0.2']);
  // Automatic allocation prefers the address already used by the key over a fresh one.
  assert.deepEqual(addresses(ipam.allocate(req('a/dns-udp', { ...dns, ports: [{ port: 53, protocol: 'udp' }] }))), ['10.200.0.1']);
  assert.deepEqual(ipam.poolStats()[0]!.used, 2);
  // The address stays in use until its last holder goes.
  ipam.release('a/dns-tcp');
  assert.deepEqual(addresses(ipam.allocate(req('a/next'))), ['10.200.0.3']);
  ipam.release('a/dns-udp');
  assert.deepEqual(addresses(ipam.allocate(req('a/last'))), ['10.200.0.1']);
});

test('refuses when ports clash under the same sharing key, naming the holder', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/24'])]);
  addresses(ipam.allocate(req('a/one', { sharingKey: 'k' })));
  const error = errorOf(ipam.allocate(req('a/two', { sharingKey: 'k', requested: ['10.200.0.1'] })));
  assert.equal(error.code, IpamErrorCode.portClash);
  assert.equal(error.holder, 'a/one');
  assert.match(error.message, /a\/one already serves 80\/tcp/);
  // Without a requested address it simply gets a fresh one.
  assert.deepEqual(addresses(ipam.allocate(req('a/two', { sharingKey: 'k' }))), ['10.200.0.2']);
});

test('a requested address held by a service with another or no key is in use', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/24'])]);
  addresses(ipam.allocate(req('a/one', { sharingKey: 'k' })));
  for (const sharingKey of ['other', undefined]) {
    const more = sharingKey === undefined ? {} : { sharingKey };
    const error = errorOf(ipam.allocate(req('b/two', { ...more, requested: ['10.200.0.1'], ports: [{ port: 81, protocol: 'tcp' }] })));
    assert.equal(error.code, IpamErrorCode.addressInUse);
    assert.equal(error.holder, 'a/one');
  }
});

test('dual-stack gets IPv4 first, or nothing at all', () => {
  const ipam = new Allocator([pool('v4', ['10.200.0.0/30']), pool('v6', ['fd00:200::/126'])]);
  assert.deepEqual(addresses(ipam.allocate(req('a/x', { families: [6, 4] }))), ['10.200.0.1', 'fd00:200::1']);
  addresses(ipam.allocate(req('a/y', { families: [6] })));
  addresses(ipam.allocate(req('a/z', { families: [6] })));
  // IPv4 is free but IPv6 is not: no half allocation is left behind.
  const error = errorOf(ipam.allocate(req('a/w', { families: [4, 6] })));
  assert.equal(error.code, IpamErrorCode.poolExhausted);
  assert.equal(ipam.assignments().has('a/w'), false);
  assert.deepEqual(addresses(ipam.allocate(req('a/v'))), ['10.200.0.2']);
  const v4only = new Allocator([pool('v4', ['10.200.0.0/24'])]);
  assert.equal(errorOf(v4only.allocate(req('a/x', { families: [4, 6] }))).code, IpamErrorCode.familyUnavailable);
  assert.deepEqual(v4only.poolStats()[0]!.used, 0);
});

test('a dual-stack service keeps its IPv4 address when it adds IPv6', () => {
  const ipam = new Allocator([pool('both', ['10.200.0.0/24', 'fd00:200::/120'])]);
  addresses(ipam.allocate(req('a/x')));
  assert.deepEqual(addresses(ipam.allocate(req('a/y'))), ['10.200.0.2']);
  assert.deepEqual(addresses(ipam.allocate(req('a/y', { families: [4, 6] }))), ['10.200.0.2', 'fd00:200::1']);
});

test('pools are chosen by priority, then name; a named pool and namespaces are respected', () => {
  const ipam = new Allocator([
    pool('b-low', ['10.1.0.0/24']),
    pool('a-low', ['10.2.0.0/24']),
    pool('high', ['10.3.0.0/24'], { priority: 10, namespaces: ['team'] }),
    pool('manual', ['10.4.0.0/24'], { autoAssign: false }),
  ]);
  assert.deepEqual(addresses(ipam.allocate(req('team/x'))), ['10.3.0.1']);
  assert.deepEqual(addresses(ipam.allocate(req('other/x'))), ['10.2.0.1']);
  assert.deepEqual(addresses(ipam.allocate(req('other/y', { pool: 'manual' }))), ['10.4.0.1']);
  const missing = errorOf(ipam.allocate(req('other/z', { pool: 'nope' })));
  assert.equal(missing.code, IpamErrorCode.noPool);
  assert.match(missing.message, /no pool named "nope"; pools are: high, a-low, b-low, manual/);
  const barred = errorOf(ipam.allocate(req('other/z', { pool: 'high' })));
  assert.equal(barred.code, IpamErrorCode.namespaceNotAllowed);
  assert.equal(errorOf(ipam.allocate(req('other/z', { requested: ['10.3.0.9'] }))).code, IpamErrorCode.namespaceNotAllowed);
  assert.equal(errorOf(ipam.allocate(req('other/z', { pool: 'a-low', requested: ['10.1.0.9'] }))).code, IpamErrorCode.notInPool);
  const none = new Allocator([pool('manual', ['10.4.0.0/24'], { autoAssign: false })]);
  assert.equal(errorOf(none.allocate(req('a/x'))).code, IpamErrorCode.noPool);
});

test('restore records an address without choosing, and refuses one that is taken', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/24'])]);
  assert.deepEqual(addresses(ipam.restore(req('a/old'), ['10.200.0.1'])), ['10.200.0.1']);
  assert.deepEqual(addresses(ipam.restore(req('a/older'), ['10.200.0.9'])), ['10.200.0.9']);
  const taken = errorOf(ipam.restore(req('b/thief'), ['10.200.0.9']));
  assert.equal(taken.code, IpamErrorCode.addressInUse);
  assert.equal(taken.holder, 'a/older');
  assert.equal(errorOf(ipam.restore(req('b/x'), ['10.200.0.255'])).code, IpamErrorCode.reserved);
  assert.equal(errorOf(ipam.restore(req('b/x'), ['fd00::1'])).code, IpamErrorCode.badRequest);
  assert.deepEqual(addresses(ipam.allocate(req('a/new'))), ['10.200.0.2']);
  assert.deepEqual(addresses(ipam.allocate(req('a/older'))), ['10.200.0.9']);
  assert.deepEqual([...ipam.assignments().keys()], ['a/new', 'a/old', 'a/older']);
});

test('bad pools are refused with the pool and field named', () => {
  const cases: [Pool[], string, RegExp][] = [
    [[pool('p', ['10.0.0.0/24', '10.0.1.5/24'])], IpamErrorCode.badPool, /pool p: addresses\[1\] "10\.0\.1\.5\/24" is not usable: .*network is 10\.0\.1\.0\/24/],
    [[pool('p', ['10.0.0.9-10.0.0.1'])], IpamErrorCode.badPool, /pool p: addresses\[0\].*ends before it starts/],
    [[pool('p', [])], IpamErrorCode.badPool, /pool p: addresses is empty/],
    [[pool('p', ['10.0.0.0/24'], { reserved: ['10.0.0.x'] })], IpamErrorCode.badPool, /pool p: reserved\[0\]/],
    [[pool('p', ['10.0.0.0/24']), pool('p', ['10.0.1.0/24'])], IpamErrorCode.badPool, /names must be unique/],
    [[pool('a', ['10.0.0.0/16']), pool('b', ['10.0.5.0-10.0.5.9'])], IpamErrorCode.poolOverlap, /pools a and b: addresses\[0\] \(10\.0\.0\.0\/16\) and addresses\[0\] \(10\.0\.5\.0-10\.0\.5\.9\) overlap/],
    [[pool('a', ['fd00::/64', 'fd00::8/125'])], IpamErrorCode.poolOverlap, /pool a:/],
  ];
  for (const [pools, code, message] of cases) {
    assert.throws(() => new Allocator(pools), (e: unknown) => {
      assert.ok(e instanceof Error && 'code' in e);
      assert.equal(e.code, code);
      assert.match(e.message, message);
      return true;
    });
  }
});

test('malformed requests are refused per service', () => {
  const ipam = new Allocator([pool('default', ['10.200.0.0/24', 'fd00::/120'])]);
  const bad: Partial<AllocationRequest>[] = [
    { families: [] },
    { requested: ['10.200.0.300'] },
    { requested: ['fd00::5'] },
    { families: [4, 6], requested: ['10.200.0.5', '10.200.0.6'] },
    { ports: [{ port: 0, protocol: 'tcp' }] },
  ];
  for (const more of bad) assert.equal(errorOf(ipam.allocate(req('a/x', more))).code, IpamErrorCode.badRequest, JSON.stringify(more));
  assert.deepEqual(addresses(ipam.allocate(req('a/x'))), ['10.200.0.1']);
});

test('externalIPs are allowed only from pools that allow them, for their namespaces', () => {
  const ipam = new Allocator([
    pool('lb', ['10.200.0.0/24']),
    pool('ext', ['10.201.0.0/24'], { autoAssign: false, allowExternalIPs: true, namespaces: ['shop'], reserved: ['10.201.0.1'] }),
  ]);
  assert.deepEqual(ipam.externalIPAllowed('shop', '10.201.0.5', 'shop/web'), { ok: true, pool: 'ext' });
  const verdict = (ns: string, address: string, service = `${ns}/x`): string => {
    const v = ipam.externalIPAllowed(ns, address, service);
    return v.ok ? 'ok' : v.error.code;
  };
  assert.equal(verdict('evil', '10.201.0.5'), IpamErrorCode.externalIPNotAllowed);
  assert.equal(verdict('shop', '10.200.0.5'), IpamErrorCode.externalIPNotAllowed);
  assert.equal(verdict('shop', '8.8.8.8'), IpamErrorCode.externalIPNotAllowed);
  assert.equal(verdict('shop', '10.201.0.1'), IpamErrorCode.reserved);
  addresses(ipam.allocate(req('shop/lb', { requested: ['10.201.0.7'] })));
  assert.equal(verdict('shop', '10.201.0.7'), IpamErrorCode.addressInUse);
  assert.equal(verdict('shop', '10.201.0.7', 'shop/lb'), 'ok');
});

test('serviceSelector: only Services with matching labels get VIPs from the pool, automatically or by name', () => {
  const a = new Allocator([
    pool('gold', ['10.0.0.0/30'], { priority: 10, serviceSelector: { matchLabels: { tier: 'gold' } } }),
    pool('general', ['10.0.1.0/30']),
  ]);
  const gold = a.allocate(req('shop/pay', { labels: { tier: 'gold' } }));
  assert.deepEqual(gold, { ok: true, addresses: ['10.0.0.1'] });
  // Not selected: the higher-priority pool is skipped, not an error.
  assert.deepEqual(a.allocate(req('shop/blog', { labels: { tier: 'bronze' } })), { ok: true, addresses: ['10.0.1.1'] });
  assert.deepEqual(a.allocate(req('shop/nolabels')), { ok: true, addresses: ['10.0.1.2'] });
  const named = a.allocate(req('shop/sneaky', { pool: 'gold' }));
  assert.equal(named.ok, false);
  assert.equal(named.error.code, IpamErrorCode.serviceNotSelected);
  assert.match(named.error.message, /pool gold selects Services labelled tier=gold only/);
  const requested = a.allocate(req('shop/asks', { requested: ['10.0.0.2'] }));
  assert.equal(!requested.ok && requested.error.code, IpamErrorCode.serviceNotSelected);
});

test('serviceSelector: when no auto-assigning pool selects the Service, the error says so', () => {
  const a = new Allocator([pool('only', ['10.0.0.0/30'], { serviceSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] } })]);
  const r = a.allocate(req('shop/db', { labels: { app: 'db' } }));
  assert.equal(!r.ok && r.error.code, IpamErrorCode.noPool);
  assert.match(!r.ok ? r.error.message : '', /no pool with autoAssign admits namespace shop and selects the service's labels/);
  assert.equal(a.allocate(req('shop/api', { labels: { app: 'api' } })).ok, true);
});

test('serviceSelector does not govern external IP claims (allowExternalIPs and namespaces do, as in admission)', () => {
  const a = new Allocator([pool('ext', ['10.0.0.0/30'], { allowExternalIPs: true, serviceSelector: { matchLabels: { tier: 'gold' } } })]);
  assert.equal(a.externalIPAllowed('shop', '10.0.0.2', 'shop/web').ok, true);
});
