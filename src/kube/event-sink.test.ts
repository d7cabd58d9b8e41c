import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { EventRecord } from './index.ts';
import { EventSink } from './event-sink.ts';

const log = pino({ level: 'silent' });
const event = (name: string): EventRecord => ({
  namespace: 'default', involved: { kind: 'Service', name, namespace: 'default' }, type: 'Normal', reason: 'VIPAllocated', message: `assigned ${name}`, component: 'test', at: new Date(),
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('Events wait while status writes are queued, then go out in the order recorded', async () => {
  const written: string[] = [];
  let busy = true;
  const sink = new EventSink({ clients: { createEvent: (e) => (written.push(e.involved.name), Promise.resolve()) }, log, busy: () => busy, maxDelayMs: 10_000 });
  for (const name of ['a', 'b', 'c']) sink.record(event(name));
  await sleep(150);
  assert.deepEqual(written, [], 'an Event went out ahead of queued statuses');
  assert.equal(sink.pending, 3);
  busy = false;
  await sink.idle();
  assert.deepEqual(written, ['a', 'b', 'c']);
});

test('an Event that waited maxDelayMs goes out even while statuses keep coming', async () => {
  const written: string[] = [];
  const sink = new EventSink({ clients: { createEvent: (e) => (written.push(e.involved.name), Promise.resolve()) }, log, busy: () => true, maxDelayMs: 100 });
  sink.record(event('a'));
  await sleep(40);
  assert.deepEqual(written, []);
  await sink.idle();
  assert.deepEqual(written, ['a']);
  await sink.stop();
});

test('a failed write is logged and does not stop the next ones; beyond maxQueued Events are dropped', async () => {
  const written: string[] = [];
  const sink = new EventSink({
    clients: { createEvent: (e) => (e.involved.name === 'bad' ? Promise.reject(new Error('HTTP 500')) : (written.push(e.involved.name), Promise.resolve())) },
    log, maxQueued: 3, concurrency: 1,
  });
  for (const name of ['bad', 'a', 'b', 'c', 'd']) sink.record(event(name));
  await sink.idle();
  // 'bad' went out at once (in flight, not queued); a, b, c were queued; d found the queue full.
  assert.deepEqual(written, ['a', 'b', 'c']);
});
