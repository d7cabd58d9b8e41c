import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventRecord } from '../kube/index.ts';
import { l2EventRecorder } from './l2-events.ts';

function recorder(servicesOf: (vip: string) => string[] = () => ['shop/web']) {
  let t = 1_000_000;
  const written: EventRecord[] = [];
  const record = l2EventRecorder({ record: (e) => written.push(e), servicesOf, now: () => t, perVipMs: 30_000, burst: 5, windowMs: 10_000 });
  return { record, written, advance: (ms: number) => (t += ms) };
}

test('a takeover is a Normal Event on each Service holding the VIP', () => {
  const r = recorder(() => ['shop/web', 'shop/web-udp']);
  r.record({ kind: 'takeover', vip: '10.180.1.200', message: 'lb2 now answers ARP for 10.180.1.200 on lan: lb1 is down' });
  assert.deepEqual(r.written.map((e) => [e.namespace, e.involved.name, e.type, e.reason]), [['shop', 'web', 'Normal', 'L2OwnerChanged'], ['shop', 'web-udp', 'Normal', 'L2OwnerChanged']]);
});

test('a flapping VIP writes one Event per window, and the next one counts the rest', () => {
  const r = recorder();
  for (let i = 0; i < 4; i++) {
    r.record({ kind: 'takeover', vip: '10.180.1.200', message: 'taken' });
    r.advance(1000);
  }
  assert.equal(r.written.length, 1);
  r.advance(30_000);
  r.record({ kind: 'takeover', vip: '10.180.1.200', message: 'taken' });
  assert.equal(r.written.length, 2);
  assert.match(r.written[1]!.message, /3 more like it/);
});

test('a conflict is a Warning, limited apart from takeovers', () => {
  const r = recorder();
  r.record({ kind: 'takeover', vip: '10.180.1.200', message: 'taken' });
  r.record({ kind: 'conflict', vip: '10.180.1.200', message: 'another MAC claims it' });
  assert.deepEqual(r.written.map((e) => [e.type, e.reason]), [['Normal', 'L2OwnerChanged'], ['Warning', 'L2Conflict']]);
});

test('many VIPs taken at once write a bounded burst', () => {
  const r = recorder();
  for (let i = 0; i < 50; i++) r.record({ kind: 'takeover', vip: `10.180.1.${i}`, message: 'taken' });
  assert.equal(r.written.length, 5);
  r.advance(10_000);
  r.record({ kind: 'takeover', vip: '10.180.2.1', message: 'taken' });
  assert.equal(r.written.length, 6);
});

test('a VIP no Service holds writes nothing', () => {
  const r = recorder(() => []);
  r.record({ kind: 'takeover', vip: '10.180.1.200', message: 'taken' });
  assert.equal(r.written.length, 0);
});
