import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pool } from '../model/index.ts';
import { IpamErrorCode, allocateAll, type AllocationRequest, type AllocationResult } from './index.ts';

function pool(name: string, addresses: string[], more: Partial<Pool> = {}): Pool {
  return { name, addresses, autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: false, namespaces: [], reserved: [], priority: 0, ...more };
}

function req(service: string, more: Partial<AllocationRequest> = {}): AllocationRequest {
  return { service, namespace: service.split('/')[0]!, families: [4], requested: [], ports: [{ port: 80, protocol: 'tcp' }], ...more };
}

function show(results: ReadonlyMap<string, AllocationResult>): Record<string, string> {
  return Object.fromEntries([...results].map(([s, r]) => [s, r.ok ? r.addresses.join(' ') : r.error.code]));
}

test('after a restart, services keep their addresses even where lower ones are free', () => {
  const pools = [pool('default', ['10.200.0.0/24'])];
  const previous = new Map([
    ['a/web', ['10.200.0.9']],
    ['a/api', ['10.200.0.4']],
    ['a/gone', ['10.200.0.1']], // deleted while the controller was down
  ]);
  const results = allocateAll(pools, [req('a/web'), req('a/new'), req('a/api')], previous);
  assert.deepEqual(show(results), { 'a/api': '10.200.0.4', 'a/new': '10.200.0.1', 'a/web': '10.200.0.9' });
});

test('an address that is no longer valid is replaced, and the rest of the service is kept', () => {
  const pools = [pool('default', ['10.200.0.0/24', 'fd00:200::/120'], { reserved: ['10.200.0.9'] })];
  const previous = new Map([
    ['a/web', ['10.200.0.9', 'fd00:200::7']], // the operator reserved .9 since
    ['a/api', ['10.200.0.250']], // now asks for another address
    ['a/old', ['192.0.2.1']], // its pool was removed
  ]);
  const results = allocateAll(pools, [req('a/web', { families: [4, 6] }), req('a/api', { requested: ['10.200.0.3'] }), req('a/old')], previous);
  assert.deepEqual(show(results), { 'a/api': '10.200.0.3', 'a/old': '10.200.0.1', 'a/web': '10.200.0.2 fd00:200::7' });
});

test('when the previous state gives one address to two services, the first key keeps it', () => {
  const pools = [pool('default', ['10.200.0.0/24'])];
  const previous = new Map([
    ['b/second', ['10.200.0.5']],
    ['a/first', ['10.200.0.5']],
  ]);
  assert.deepEqual(show(allocateAll(pools, [req('b/second'), req('a/first')], previous)), { 'a/first': '10.200.0.5', 'b/second': '10.200.0.1' });
});

test('a service key given twice is refused rather than resolved by arrival order', () => {
  const pools = [pool('default', ['10.200.0.0/24'])];
  const results = allocateAll(pools, [req('a/x'), req('a/y'), req('a/x', { requested: ['10.200.0.7'] })], new Map());
  assert.deepEqual(show(results), { 'a/x': IpamErrorCode.badRequest, 'a/y': '10.200.0.1' });
});

test('exhaustion is reported on the services that did not fit, in key order', () => {
  const pools = [pool('tiny', ['10.200.0.0/30'])];
  const results = allocateAll(pools, [req('a/c'), req('a/b'), req('a/a')], new Map());
  assert.deepEqual(show(results), { 'a/a': '10.200.0.1', 'a/b': '10.200.0.2', 'a/c': IpamErrorCode.poolExhausted });
});
