import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { ApplyOptions, ApplyReport, Dataplane, FrontendCounters } from '../dataplane/dataplane.ts';
import type { Pool, ServiceSpec, ServiceTable } from '../model/index.ts';
import { Agent, type AgentInput } from './agent.ts';
import type { Announcer } from './announcer.ts';
import { createAgentMetrics } from './metrics.ts';
import { memoryAssignmentStore } from './state-store.ts';

const pool: Pool = {
  name: 'default', addresses: ['10.200.0.0/24'], autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: true,
  namespaces: [], reserved: ['10.200.0.1'], priority: 0,
};

function service(name: string, over: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    key: `default/${name}`, namespace: 'default', name, type: 'LoadBalancer', externalIPs: [], requestedIPs: [], ipFamilies: [4],
    ports: [{ name: 'http', port: 80, protocol: 'tcp', backends: [{ address: '10.100.1.41', port: 8080, weight: 1, state: 'ready' }] }],
    sessionAffinity: 'None', sourceRanges: [], snat: 'masquerade', ...over,
  };
}

/** Records what it is given; can be told to refuse the next N applies, like a kernel saying no. */
class RecordingDataplane implements Dataplane {
  readonly engine = 'recording';
  tables: ServiceTable[] = [];
  failures = 0;
  apply(table: ServiceTable, _options?: ApplyOptions): Promise<ApplyReport> {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('Error: Could not process rule: No such file or directory'));
    }
    this.tables.push(table);
    return Promise.resolve({ changed: true, frontendsWritten: table.frontends.length, frontendsRemoved: 0, driftRepaired: false, durationMs: 0 });
  }
  counters(): Promise<ReadonlyMap<string, FrontendCounters>> {
    return Promise.resolve(new Map());
  }
  cleanup(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function harness(store = memoryAssignmentStore()) {
  const dataplane = new RecordingDataplane();
  const announced: string[][] = [];
  const announcer: Announcer = {
    kind: 'recording',
    setAdvertisements: (p) => {
      announced.push([...p]);
      return Promise.resolve();
    },
    stop: () => Promise.resolve(),
  };
  const agent = new Agent({
    dataplane, announcer, store, metrics: createAgentMetrics(() => dataplane), log: pino({ level: 'silent' }),
    debounceMs: 0, resyncMs: 0, retryMs: 5,
  });
  return { agent, dataplane, announced, store };
}

const input = (services: ServiceSpec[]): AgentInput => ({ pools: [pool], services, denySources: ['10.180.1.0/24'] });

test('a Service with a forbidden external IP is reported and the others are still served', async () => {
  const { agent, dataplane, announced } = harness();
  agent.setInput(input([
    service('nginx', { type: 'ClusterIP', externalIPs: ['10.200.0.5'] }),
    service('hijack', { type: 'ClusterIP', externalIPs: ['8.8.8.8'] }),
    service('nginx2'),
  ]));
  await agent.reconcileNow();
  const table = dataplane.tables.at(-1)!;
  assert.deepEqual(table.frontends.map((f) => `${f.service} ${f.key} ${f.type}`), [
    'default/nginx2 10.200.0.2:80/tcp LoadBalancer',
    'default/nginx 10.200.0.5:80/tcp ExternalIPs',
  ]);
  const status = agent.status();
  assert.equal(status.problems.length, 1);
  assert.equal(status.problems[0]!.service, 'default/hijack');
  assert.equal(status.problems[0]!.code, 'EXTERNAL_IP_REJECTED');
  assert.deepEqual(announced.at(-1), ['10.200.0.2/32', '10.200.0.5/32']);
  assert.deepEqual(table.denySources, ['10.180.1.0/24']);
});

test('nothing is announced until the dataplane accepts the table; a refused apply is retried', async () => {
  const { agent, dataplane, announced } = harness();
  dataplane.failures = 1;
  agent.setInput(input([service('nginx2')]));
  await agent.reconcileNow();
  assert.equal(announced.length, 0);
  assert.equal(agent.status().lastPass?.ok, false);
  assert.match(agent.status().lastPass!.errors[0]!, /DATAPLANE_FAILED/);
  await new Promise((r) => setTimeout(r, 50)); // the retry timer (5 ms) runs the pass again
  assert.equal(agent.status().lastPass?.ok, true);
  assert.deepEqual(announced.at(-1), ['10.200.0.2/32']);
  await agent.stop();
});

test('a VIP whose backends are all terminating is programmed but not announced', async () => {
  const { agent, dataplane, announced } = harness();
  agent.setInput(input([
    service('draining', {
      ports: [{ name: 'http', port: 80, protocol: 'tcp', backends: [{ address: '10.100.1.41', port: 80, weight: 1, state: 'terminating' }] }],
    }),
  ]));
  await agent.reconcileNow();
  assert.equal(dataplane.tables.at(-1)!.frontends.length, 1);
  assert.deepEqual(announced.at(-1), []);
});

test('a restart keeps the addresses in the state file even when the config changed meanwhile', async () => {
  const store = memoryAssignmentStore(new Map([['default/nginx2', ['10.200.0.9']]]));
  const { agent, dataplane } = harness(store);
  // "aaa" sorts first and would have taken the lowest address on a cold allocation.
  agent.setInput(input([service('aaa'), service('nginx2')]));
  await agent.reconcileNow();
  const byService = new Map(dataplane.tables.at(-1)!.frontends.map((f) => [f.service, f.address]));
  assert.equal(byService.get('default/nginx2'), '10.200.0.9');
  assert.equal(byService.get('default/aaa'), '10.200.0.2');
  assert.deepEqual((await store.load()).get('default/aaa'), ['10.200.0.2']);
});

test('an address claimed through externalIPs is never handed to a LoadBalancer', async () => {
  const { agent, dataplane } = harness();
  // 10.200.0.2 would be the first free address; nginx claims it as an external IP.
  agent.setInput(input([service('nginx', { type: 'ClusterIP', externalIPs: ['10.200.0.2'] }), service('nginx2')]));
  await agent.reconcileNow();
  const byService = new Map(dataplane.tables.at(-1)!.frontends.map((f) => [f.service, f.address]));
  assert.equal(byService.get('default/nginx'), '10.200.0.2');
  assert.equal(byService.get('default/nginx2'), '10.200.0.3');
  assert.deepEqual(agent.status().problems, []);
});
