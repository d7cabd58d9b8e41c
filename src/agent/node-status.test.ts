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
  const look = async (advanceMs: number): Promise<number> => {
    now += advanceMs;
    await p.observe();
    return written.length;
  };
  assert.equal(await look(0), 1, 'the first look is written');
  assert.deepEqual([written[0]!.services, written[0]!.problems.map((x) => x.reason)], [1, ['NotInTable']], 'a Service new at this look: listed at once');
  assert.equal(await look(5000), 1, 'nothing changed: no write');
  names = ['a', 'b'];
  assert.equal(await look(1000), 2, 'changed, and the last write is 6 s old: written');
  assert.equal(written[1]!.services, 2);
  names = ['a'];
  assert.equal(await look(1000), 2, 'changed 1 s after the last write: held back');
  assert.equal(await look(4000), 3, 'written once minWriteMs has passed');
  assert.equal(written[2]!.services, 1);
  assert.equal(await look(5000), 3, 'nothing changed: no write');
  assert.equal(await look(60_000), 4, 'due for a refresh');
});
