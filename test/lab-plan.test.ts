// The lab's plan, without root: what would be created where. The guarantee that nothing lands
// in the root namespace lives here — every link created from the root names its namespaces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchTopology, demoTopology, LabErrorCode, planTopology, type Topology } from '../lab/index.ts';

test('every veth is created with both ends inside lab namespaces', () => {
  for (const topology of [demoTopology(), benchTopology({ backends: 4 })]) {
    const plan = planTopology(topology, 'vgabcd');
    assert.ok(plan.veths.length > 0);
    for (const line of plan.veths) assert.match(line, /^link add \S{1,15} netns vgabcd-[a-z0-9]+ type veth peer name \S{1,15} netns vgabcd-[a-z0-9]+$/);
    for (const ns of plan.namespaces) assert.match(ns, /^vgabcd-/);
  }
});

test('the demo puts the datacenter bridge in the router and routes pods like a CNI', () => {
  const plan = planTopology(demoTopology(), 'vgabcd');
  const setup = (host: string) => plan.setups.find((s) => s.host === host)!;
  assert.ok(setup('router').batch.includes('link add dc type bridge'));
  assert.ok(setup('router').batch.includes('link set dc-1 master dc'));
  assert.ok(setup('router').batch.includes('route add 10.200.0.0/16 via 10.180.1.16'));
  assert.ok(setup('router').batch.includes('route add fd00:200::/64 via fd00:180:1::16'));
  assert.ok(setup('node1').batch.includes('route add 10.100.1.42/32 dev vpod1b'));
  assert.ok(setup('pod2a').batch.includes('route add default via 169.254.1.1 dev eth0 onlink'));
  assert.ok(setup('lb1').sysctls.includes('net.ipv4.ip_forward=1'));
  assert.ok(setup('client').batch.includes('route add ::/0 via fd00:1::1'));
  assert.ok(setup('client').batch.includes('addr add fd00:1::2/64 dev cl nodad'));
  assert.ok(!setup('client').sysctls.includes('net.ipv4.ip_forward=1'));
});

test('mistakes in a description are named', () => {
  const base: Topology = { hosts: [{ name: 'a' }, { name: 'b' }], segments: [] };
  const bad = (t: Topology, pattern: RegExp) => assert.throws(() => planTopology(t, 'vgabcd'), (e: unknown) => e instanceof Error && 'code' in e && e.code === LabErrorCode.badTopology && pattern.test(e.message));
  bad({ ...base, segments: [{ name: 'x', members: [{ host: 'a' }, { host: 'c' }] }] }, /unknown host "c"/);
  bad({ ...base, segments: [{ name: 'averyverylongname', members: [{ host: 'a' }, { host: 'b' }] }] }, /at most 12 characters/);
  bad({ ...base, pods: [{ name: 'podwithalongname', node: 'a', addresses: ['10.0.0.1'] }] }, /longer than 15/);
  bad({ ...base, segments: [{ name: 'x', members: [{ host: 'a', addresses: ['10.0.0.1'] }, { host: 'b' }] }] }, /not "address\/len"/);
  bad({ hosts: [{ name: 'a', routes: [{ to: 'default' }] }], segments: [] }, /needs "via" or "dev"/);
  assert.throws(() => planTopology(base, 'VG-bad'), { code: LabErrorCode.badPrefix });
  assert.throws(() => benchTopology({ backends: 0 }), RangeError);
});
