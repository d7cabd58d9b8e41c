import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseIp } from '../net/index.ts';
import { ownerOf, rankNodes, rendezvousWeight } from './ownership.ts';

const vipArb = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([c, d]) => parseIp(`10.200.${c}.${d}`));
const nodesArb = fc.uniqueArray(fc.stringMatching(/^lb[0-9]{1,2}$/), { minLength: 1, maxLength: 8 });

test('the weight is SHA-256("<vip>\\n<node>")[0..8]: pinned, so nodes of different versions agree during a rollout', () => {
  // printf '10.200.0.5\nlb1' | sha256sum → 7a9711cb6937d039…
  assert.equal(rendezvousWeight(parseIp('10.200.0.5'), 'lb1'), 0x7a9711cb6937d039n);
  assert.deepEqual(rankNodes(parseIp('10.200.0.5'), ['lb1', 'lb2', 'lb3']), ['lb3', 'lb1', 'lb2']);
});

test('the owner does not depend on the order the nodes are listed in', () => {
  fc.assert(
    fc.property(vipArb, nodesArb, (vip, nodes) => {
      assert.equal(ownerOf(vip, nodes), ownerOf(vip, [...nodes].reverse()));
    }),
  );
});

test('a node leaving moves only the VIPs it owned; a node returning takes back only its own', () => {
  fc.assert(
    fc.property(vipArb, nodesArb.filter((n) => n.length >= 2), fc.nat(), (vip, nodes, pick) => {
      const leaving = nodes[pick % nodes.length]!;
      const before = ownerOf(vip, nodes);
      const after = ownerOf(
        vip,
        nodes.filter((n) => n !== leaving),
      );
      if (before !== leaving) assert.equal(after, before);
      else assert.notEqual(after, leaving);
    }),
  );
});

test('VIPs spread over the nodes', () => {
  const nodes = ['lb1', 'lb2', 'lb3'];
  const owned = new Map(nodes.map((n) => [n, 0]));
  for (let i = 0; i < 3000; i++) {
    const vip = parseIp(`10.200.${i >> 8}.${i & 0xff}`);
    const owner = ownerOf(vip, nodes)!;
    owned.set(owner, owned.get(owner)! + 1);
  }
  for (const [node, count] of owned) assert.ok(count > 850 && count < 1150, `${node} owns ${count} of 3000`);
});

test('nobody owns a VIP no node is eligible for; a repeated name is a bug in the caller', () => {
  assert.equal(ownerOf(parseIp('10.200.0.5'), []), undefined);
  assert.throws(() => ownerOf(parseIp('10.200.0.5'), ['lb1', 'lb1']), { code: 'L2_BAD_NODES' });
});
