import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseIp } from '../net/index.ts';
import { settleConflict } from './conflict.ts';
import { rankNodes } from './ownership.ts';

const vipArb = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => parseIp(`10.77.${a}.${b}`));
const nameArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);

test('two LB nodes claiming one VIP reach opposite settlements: exactly one keeps it', () => {
  fc.assert(
    fc.property(vipArb, nameArb, nameArb, (vip, a, b) => {
      fc.pre(a !== b);
      const actions = [settleConflict(vip, a, b).action, settleConflict(vip, b, a).action].sort();
      assert.deepEqual(actions, ['reannounce', 'yield']);
    }),
  );
});

test('the node that keeps a contested VIP is its first choice between the two', () => {
  fc.assert(
    fc.property(vipArb, nameArb, nameArb, (vip, a, b) => {
      fc.pre(a !== b);
      const first = rankNodes(vip, [a, b])[0];
      assert.equal(settleConflict(vip, first!, first === a ? b : a).action, 'reannounce');
    }),
  );
});

test('a MAC that is no known LB node does not make the owner let go', () => {
  const settled = settleConflict(parseIp('10.77.0.5'), 'lb1', undefined);
  assert.equal(settled.action, 'keep');
  assert.match(settled.reason, /no known LB node/);
});
