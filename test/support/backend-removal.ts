// The walk-through's backend removal under load, the same for every dataplane: the client keeps
// opening connections to nginx2 while its config loses pod1b; not one request may fail, and the
// change must land mid-loop (pod1b answers early on, only pod2a at the end).
import assert from 'node:assert/strict';
import type { WalkthroughLab } from '../../lab/scenario.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `target` is nginx2's URL; `withoutPod1b` the agent config with pod2a as nginx2's only backend. */
export async function removeBackendUnderLoad(w: WalkthroughLab, target: string, withoutPod1b: string): Promise<void> {
  const loop = w.lab.requestLoop('client', target, { count: 8000, concurrency: 4, maxMs: 90_000 });
  await sleep(500);
  await w.writeConfig(withoutPod1b);
  await w.waitForServices((v) => v.services.find((s) => s.service === 'default/nginx2')?.backends.length === 1);
  const during = await loop;
  assert.equal(during.cutShort, false);
  assert.equal(during.failed, 0, `failed requests: ${JSON.stringify(during.outcomes.filter((o) => !o.ok).slice(0, 3))}`);
  assert.ok(during.outcomes.slice(0, 100).some((o) => o.backend === 'pod1b'), 'pod1b never answered before the change');
  assert.deepEqual([...new Set(during.outcomes.slice(-100).map((o) => o.backend))], ['pod2a'], 'the loop ended before the change took effect');
  const afterLoop = await w.lab.requestLoop('client', target, { count: 30, concurrency: 3, maxMs: 30_000 });
  assert.equal(afterLoop.failed, 0);
  assert.deepEqual([...afterLoop.backends], ['pod2a']);
}
