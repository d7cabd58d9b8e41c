// The pure parts of the L2 takeover measurement (lab/l2-takeover.ts): reading `ip -ts monitor`
// lines and recognising the switch port going down. No namespaces needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkDownPattern, monitorLine } from '../lab/l2-takeover.ts';

test("a stamped monitor line takes ip's own time (local time, to the millisecond); an unstamped one its arrival", () => {
  const stamped = monitorLine('[2026-12-06T07:26:18.354970] 10.180.1.200 dev lan lladdr 02:bf:c8:28:83:da REACHABLE', 1);
  assert.equal(stamped.at, new Date(2026, 11, 6, 7, 26, 18, 354).getTime());
  assert.equal(stamped.line, '10.180.1.200 dev lan lladdr 02:bf:c8:28:83:da REACHABLE');
  assert.deepEqual(monitorLine('10.180.1.200 dev lan lladdr 02:bf:c8:28:83:da STALE', 1234), { at: 1234, line: '10.180.1.200 dev lan lladdr 02:bf:c8:28:83:da STALE' });
  assert.deepEqual(monitorLine('[not a stamp] x', 7), { at: 7, line: '[not a stamp] x' });
});

test('the link-down pattern matches the port set down, not the port up nor another port', () => {
  const down = linkDownPattern('lan-2');
  assert.ok(down.test('5: lan-2@if4: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue master lan state DOWN group default'));
  assert.ok(!down.test('5: lan-2@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master lan state UP group default'));
  assert.ok(!down.test('6: lan-3@if4: <BROADCAST,MULTICAST> mtu 1500 state DOWN'));
  assert.ok(!down.test('5: lan-23@if4: <BROADCAST,MULTICAST> mtu 1500 state DOWN'));
});
