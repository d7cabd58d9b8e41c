import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkQueue, type ReconcileResult } from './queue.ts';

/** Lets pending promise callbacks run (the queue's reconciles are async). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

test('a key added many times before it runs is reconciled once', async () => {
  const seen: string[] = [];
  const q = new WorkQueue({ reconcile: (k) => { seen.push(k); return Promise.resolve('done'); } });
  // The first add starts at once; the rest land while it runs or while queued.
  q.add('a/x');
  q.add('a/y');
  q.add('a/y');
  q.add('a/y');
  await q.idle();
  assert.deepEqual(seen, ['a/x', 'a/y']);
});

test('a key added while its reconcile runs is reconciled again afterwards, never concurrently', async () => {
  let running = 0;
  let maxRunning = 0;
  const seen: string[] = [];
  let release: () => void = () => undefined;
  const q = new WorkQueue({
    concurrency: 4,
    reconcile: async (k) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      seen.push(k);
      if (seen.length === 1) await new Promise<void>((r) => (release = r));
      running--;
      return 'done';
    },
  });
  q.add('k');
  await flush();
  q.add('k'); // the change arrives mid-reconcile
  q.add('k');
  release();
  await q.idle();
  assert.deepEqual(seen, ['k', 'k']);
  assert.equal(maxRunning, 1);
});

test('retry backs off exponentially per key and resets after done', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const results: ReconcileResult[] = ['retry', 'retry', 'retry', 'done'];
  const calls: number[] = [];
  let now = 0;
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 25, reconcile: () => { calls.push(now); return Promise.resolve(results.shift() ?? 'done'); } });
  const advance = async (ms: number): Promise<void> => {
    now += ms;
    t.mock.timers.tick(ms);
    await flush();
  };
  q.add('k');
  await flush();
  assert.equal(q.failures('k'), 1);
  await advance(9);
  assert.equal(calls.length, 1, 'not before 10 ms');
  await advance(1);
  assert.deepEqual(calls, [0, 10]);
  await advance(20); // second failure: 20 ms
  assert.deepEqual(calls, [0, 10, 30]);
  await advance(25); // third: 40 ms capped at 25
  assert.deepEqual(calls, [0, 10, 30, 55]);
  assert.equal(q.failures('k'), 0, 'done resets the backoff');
  q.stop();
});

test('requeueAfterMs brings the key back later; an earlier timer wins; a throw is a retry', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const seen: string[] = [];
  const errors: string[] = [];
  const q = new WorkQueue({
    baseDelayMs: 100,
    onError: (k, e) => errors.push(`${k}: ${(e as Error).message}`),
    reconcile: (k) => {
      seen.push(k);
      if (k === 'boom' && seen.filter((s) => s === 'boom').length === 1) return Promise.reject(new Error('api down'));
      return Promise.resolve(k === 'later' && seen.length === 1 ? { requeueAfterMs: 1000 } : 'done');
    },
  });
  q.add('later');
  await flush();
  q.addAfter('later', 50); // sooner than the 1000 ms requeue: the earlier wins
  t.mock.timers.tick(50);
  await flush();
  assert.deepEqual(seen, ['later', 'later']);
  t.mock.timers.tick(1000);
  await flush();
  assert.deepEqual(seen, ['later', 'later'], 'the later timer was replaced, not added');
  q.add('boom');
  await flush();
  assert.deepEqual(errors, ['boom: api down']);
  t.mock.timers.tick(100);
  await flush();
  assert.equal(seen.filter((s) => s === 'boom').length, 2);
  q.stop();
  q.add('after-stop');
  await flush();
  assert.ok(!seen.includes('after-stop'));
});
