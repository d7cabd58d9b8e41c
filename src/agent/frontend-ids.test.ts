import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrontendIds } from './frontend-ids.ts';

test('a frontend keeps its ID while others come and go; freed IDs are reused', () => {
  const ids = new FrontendIds();
  const first = new Map(ids.update(['a', 'b', 'c']));
  assert.deepEqual([...first.entries()], [['a', 1], ['b', 2], ['c', 3]]);
  const second = ids.update(['c', 'd']);
  assert.equal(second.get('c'), 3);
  assert.equal(second.get('d'), 1);
  assert.equal(second.has('a'), false);
});
