import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { DrainAnnouncement } from './bgp-announcer-policy.ts';
import { CLI_REQUEST, fileDrainStore, memoryDrainStore, NodeDrain, type DrainStore } from './drain.ts';

/** A drain on a fake clock: every `delay` advances it; `traffic` says whether packets still arrive. */
function rig(options: { store?: DrainStore; traffic?: (nowMs: number) => boolean; timeoutSeconds?: number } = {}) {
  let now = 1_000_000;
  let packets = 0n;
  const announced: (DrainAnnouncement | 'normal')[] = [];
  const drain = new NodeDrain({
    announce: (mode) => announced.push(mode ?? 'normal'),
    packets: () => {
      if (options.traffic?.(now) === true) packets += 10n;
      return Promise.resolve(packets);
    },
    timing: () => ({ timeoutSeconds: options.timeoutSeconds ?? 30, quietSeconds: 2 }),
    store: options.store ?? memoryDrainStore(),
    log: pino({ level: 'silent' }),
    pollMs: 200,
    now: () => now,
    delay: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  });
  return { drain, announced, elapsed: () => now - 1_000_000 };
}

test('drain: GRACEFUL_SHUTDOWN at once; withdrawn once the VIP counters stood still for quietSeconds', async () => {
  const { drain, announced, elapsed } = rig({ traffic: (t) => t < 1_000_000 + 5000 });
  const status = await drain.drain();
  assert.equal(status.state, 'draining');
  assert.deepEqual(status.requestedBy, [CLI_REQUEST]);
  assert.ok(status.deadline !== undefined);
  assert.deepEqual(announced, ['graceful-shutdown']);
  await drain.settled();
  assert.equal(drain.status().state, 'drained');
  assert.deepEqual(announced, ['graceful-shutdown', 'withdrawn']);
  // The last packets were counted at +4.8 s (polls every 200 ms); two quiet seconds later the routes went.
  assert.equal(elapsed(), 6800);
});

test('drain: flows that never stop are cut at the timeout', async () => {
  const { drain, announced, elapsed } = rig({ traffic: () => true, timeoutSeconds: 10 });
  await drain.drain();
  await drain.settled();
  assert.equal(drain.status().state, 'drained');
  assert.deepEqual(announced, ['graceful-shutdown', 'withdrawn']);
  assert.equal(elapsed(), 10_000);
});

test('undrain while draining: normal announcements again, and the wait stops', async () => {
  const { drain, announced } = rig({ traffic: () => true });
  await drain.drain();
  assert.equal((await drain.undrain()).state, 'not-drained');
  await drain.settled();
  assert.deepEqual(announced, ['graceful-shutdown', 'normal']);
  assert.equal(drain.status().state, 'not-drained');
});

test('the cluster and the operator ask independently; the node drains while either does', async () => {
  const { drain, announced } = rig();
  drain.setClusterRequest('Node lb1 is cordoned');
  await drain.settled();
  await drain.drain();
  assert.deepEqual(drain.status().requestedBy, [CLI_REQUEST, 'Node lb1 is cordoned']);
  assert.equal((await drain.undrain()).state, 'drained', 'still cordoned');
  drain.setClusterRequest(undefined);
  assert.equal(drain.status().state, 'not-drained');
  assert.deepEqual(announced, ['graceful-shutdown', 'withdrawn', 'normal']);
});

test('drain → restart → undrain: the request is kept in a file; the restarted agent starts drained', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vipgate-drain-'));
  try {
    const path = join(dir, 'assignments.json.drain.json');
    const first = rig({ store: fileDrainStore(path) });
    await first.drain.drain();
    assert.match(await readFile(path, 'utf8'), /"requestedAt"/);

    const second = rig({ store: fileDrainStore(path) });
    await second.drain.start(undefined);
    assert.equal(second.drain.status().state, 'drained');
    assert.deepEqual(second.announced, ['withdrawn'], 'nothing announced before the first pass');
    await second.drain.undrain();
    assert.deepEqual(second.announced, ['withdrawn', 'normal']);

    const third = rig({ store: fileDrainStore(path) });
    await third.drain.start(undefined);
    assert.equal(third.drain.status().state, 'not-drained');
    assert.deepEqual(third.announced, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a drain file that cannot be written refuses the drain (it would not survive a restart)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vipgate-drain-'));
  try {
    await writeFile(join(dir, 'file'), '');
    const { drain, announced } = rig({ store: fileDrainStore(join(dir, 'file', 'drain.json')) });
    await assert.rejects(drain.drain(), { code: 'DRAIN_FILE' });
    assert.equal(drain.status().state, 'not-drained');
    assert.deepEqual(announced, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
