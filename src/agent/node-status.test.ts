import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { ExplainSnapshot } from '../api/explain.ts';
import type { NodeReport } from '../api/node-report.ts';
import type { ServiceSpec } from '../model/index.ts';
import { NodeStatusPublisher } from './node-status.ts';

const spec = (name: string): ServiceSpec => ({
  key: `default/${name}`, namespace: 'default', name, type: 'ClusterIP', externalIPs: ['10.200.0.5'], requestedIPs: [], ipFamilies: [4],
  ports: [], sessionAffinity: 'None', sourceRanges: [], snat: 'masquerade',
});

/** A node whose input has `names` (none in the table: each is NotInTable, a Served problem). */
const snapshot = (names: readonly string[]): ExplainSnapshot => ({
  node: 'lb1', leftOut: [],
  status: { engine: 'nftables', announcer: 'none', table: { frontends: [], denySources: [] }, frontendIds: new Map(), problems: [], advertisements: [], input: { pools: [], services: names.map(spec), denySources: [] } },
});

test('written when it changes (at most every minWriteMs) and refreshed when due; not otherwise', async () => {
  let now = Date.parse('2026-12-06T08:00:00.000Z');
  let names: string[] = ['a'];
  const written: NodeReport[] = [];
  const p = new NodeStatusPublisher({
    snapshot: () => Promise.resolve(snapshot(names)),
    write: (r) => (written.push(r), Promise.resolve()),
    log: pino({ level: 'silent' }), observeMs: 5000, minWriteMs: 5000, refreshSeconds: 60, now: () => new Date(now),
  });
  await p.observe();
  assert.equal(written.length, 1, 'the first look is written');
  assert.deepEqual([written[0]!.services, written[0]!.problems.length], [1, 0], 'a problem waits one look');
  now += 5000;
  await p.observe();
  assert.equal(written.length, 2, 'the problem, having lasted a look, is news');
  assert.equal(written[1]!.problems[0]!.reason, 'NotInTable');
  names = ['a', 'b'];
  now += 1000;
  await p.observe();
  assert.equal(written.length, 2, 'changed 1 s after the last write: held back');
  now += 4000;
  await p.observe();
  assert.equal(written.length, 3, 'written once minWriteMs has passed');
  assert.equal(written[2]!.services, 2);
  now += 5000;
  await p.observe();
  assert.equal(written.length, 4, 'b\'s problem has lasted a look');
  now += 5000;
  await p.observe();
  assert.equal(written.length, 4, 'nothing changed: no write');
  now += 60_000;
  await p.observe();
  assert.equal(written.length, 5, 'due for a refresh');
});
