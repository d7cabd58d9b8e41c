import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { KubeClients, KubeCondition, KubeInformer, KubeLbNodeStatus, KubeService } from '../kube/index.ts';
import { ConditionWriter } from './condition-writer.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Services with a VIP, a report from lb1 that lists none of them, and a client that applies status writes to them. */
function cluster(count: number) {
  const services = new Map<string, KubeService>();
  for (let i = 0; i < count; i++) {
    services.set(`default/s${i}`, {
      metadata: { name: `s${i}`, namespace: 'default', resourceVersion: '1' },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb' },
      status: { loadBalancer: { ingress: [{ ip: `10.200.${Math.floor(i / 250)}.${i % 250}` }] }, conditions: [{ type: 'vipgate.io/VIPAllocated', status: 'True', reason: 'Allocated', message: '', lastTransitionTime: '2026-12-06T08:00:00.000Z' }] },
    });
  }
  const report: KubeLbNodeStatus = { metadata: { name: 'lb1' }, status: { observedAt: new Date().toISOString(), refreshSeconds: 60, problems: [] } };
  const informer: KubeInformer<KubeLbNodeStatus> = {
    on: () => undefined, start: () => Promise.resolve(), stop: () => Promise.resolve(), get: () => report, list: () => [report],
  };
  const writes: number[] = [];
  const clients = {
    informer: () => informer,
    patchServiceStatus: (namespace: string, name: string, status: { conditions: KubeCondition[] }) => {
      writes.push(Date.now());
      const key = `${namespace}/${name}`;
      const svc = services.get(key)!;
      // The echo: the cache sees the write (a newer resourceVersion) at once.
      const next: KubeService = { ...svc, metadata: { ...svc.metadata, resourceVersion: String(Number(svc.metadata?.resourceVersion) + 1) }, status: { ...svc.status, conditions: status.conditions } };
      services.set(key, next);
      return Promise.resolve(next);
    },
    patchPoolStatus: () => Promise.resolve(),
  } as unknown as KubeClients;
  return { services, writes, clients };
}

test('each Service is written once, through the token bucket; with nothing changing, nothing more', async () => {
  const { services, writes, clients } = cluster(60);
  const writer = new ConditionWriter(
    { clients, log: pino({ level: 'silent' }), isDefaultClass: false, services: () => [...services.values()], service: (k) => services.get(k), pools: () => [] },
    { writesPerSecond: 100, burst: 10, tickMs: 20, staleCheckMs: 50 },
  );
  const t0 = Date.now();
  writer.start();
  try {
    for (let i = 0; i < 100 && writes.length < 60; i++) await sleep(20);
    assert.equal(writes.length, 60);
    // 10 at once, then 100 a second: the 60th no sooner than 0.5 s after the start.
    assert.ok(writes[59]! - t0 >= 450, `all 60 written within ${writes[59]! - t0} ms`);
    assert.ok([...services.values()].every((s) => s.status?.conditions?.some((c) => c.type === 'vipgate.io/Served' && c.status === 'True')));
    const before = writer.aggregations;
    writer.touch();
    for (let i = 0; i < 250 && (writer.aggregations === before || writer.pending() > 0); i++) await sleep(20);
    assert.ok(writer.aggregations > before, 'the touched pass ran');
    assert.equal(writes.length, 60, 'a pass with nothing changed writes nothing');
  } finally {
    await writer.stop();
  }
});
