import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdpErrorCode } from './errors.ts';
import { FreeList } from './free-list.ts';

test('FreeList: hands out unused numbers lowest first, freed ones only after the older free ones', () => {
  const list = new FreeList('slot', 5);
  list.reset(new Set([1, 3]));
  assert.deepEqual([list.take(), list.take()], [0, 2]);
  list.release(0);
  assert.deepEqual([list.take(), list.take()], [4, 0]);
  assert.throws(() => list.take(), { code: XdpErrorCode.capacityExceeded, message: /no free slot: the maps hold 5/ });
});

test('FreeList: stays a queue across its compaction (more than 65,536 taken)', () => {
  const list = new FreeList('backend index', 131_072);
  list.reset(new Set());
  for (let i = 0; i < 100_000; i++) assert.equal(list.take(), i);
  list.release(7);
  for (let i = 100_000; i < 131_072; i++) assert.equal(list.take(), i);
  assert.equal(list.take(), 7);
});
