import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../config/index.ts';
import type { AgentInput } from './agent.ts';
import { createAgentMetrics } from './metrics.ts';
import { AgentSettings } from './settings.ts';

const log = pino({ level: 'silent' });
const inputOf = (settings: AgentSettings): AgentInput | undefined => settings.input;
const config = (extra = ''): ReturnType<typeof parseConfig> =>
  parseConfig(
    `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
vipInterface:
  addresses: [10.200.0.1/24]
pools:
  - name: v4
    addresses: [10.200.0.0/24]
${extra}`,
    'lb1.yaml',
    { hostname: 'lb1' },
  );

test('file mode: the first settings make no input until published; a change is counted and republished, then its bgp section is handed on', () => {
  const settings = new AgentSettings({ log, fromKubernetes: false, from: 'lb1.yaml' });
  const events: string[] = [];
  settings.on('config', () => events.push('config'));
  settings.on('input', () => events.push('input'));
  settings.on('bgp', (section) => events.push(`bgp:${section === undefined ? 'none' : section.routerId}`));
  settings.initial(config());
  assert.equal(settings.input, undefined);
  settings.publish();
  assert.deepEqual(inputOf(settings)?.vipInterface?.routes, ['10.200.0.0/24']);
  settings.changed(config('bgp: { routerId: 10.180.1.16, localASN: 65002, peers: [{ address: 10.180.1.1, asn: 65002 }] }\n'));
  assert.deepEqual(events, ['input', 'config', 'input', 'bgp:10.180.1.16']);
  settings.refused('lb1.yaml: 1 problem');
  assert.deepEqual(settings.reloads, { applied: 1, refused: 1 });
});

test('the first settings do not replace a change that came in while the sources started', () => {
  const settings = new AgentSettings({ log, fromKubernetes: false, from: 'lb1.yaml' });
  settings.changed(config('api: { listen: 127.0.0.1:9999 }\n'));
  settings.initial(config());
  assert.equal(settings.config?.api.port, 9999);
});

test("Kubernetes mode: no input until the cluster's first view, then the cluster's Services with this node's VIP interface; left-out objects kept", () => {
  const settings = new AgentSettings({ log, fromKubernetes: true, from: 'the LBNodeConfig' });
  const inputs: AgentInput[] = [];
  settings.on('input', (input) => inputs.push(input));
  settings.initial(config());
  settings.publish();
  assert.equal(inputs.length, 0);
  const cluster = { pools: [{ name: 'web', addresses: ['10.210.0.0/24'] }], services: [] } as unknown as AgentInput;
  settings.clusterChanged(cluster, [{ object: 'Service default/x', message: 'no ports' }]);
  assert.equal(inputs.length, 1);
  assert.deepEqual(inputs[0]?.vipInterface?.routes, ['10.200.0.0/24']);
  assert.deepEqual(settings.leftOut, [{ object: 'Service default/x', message: 'no ports' }]);
});

test('vipgate_config_reloads_total reads the counts at scrape time; a result that never happened has no series', async () => {
  let reloads = { applied: 0, refused: 0 };
  const metrics = createAgentMetrics(() => undefined, () => reloads);
  assert.doesNotMatch(await metrics.registry.metrics(), /^vipgate_config_reloads_total\{/m);
  reloads = { applied: 2, refused: 0 };
  const text = await metrics.registry.metrics();
  assert.match(text, /^vipgate_config_reloads_total\{result="applied"\} 2$/m);
  assert.doesNotMatch(text, /result="refused"/);
});

test('a reload hands on the very spec objects of the services it did not change, so the pass reuses their work', () => {
  const settings = new AgentSettings({ log, fromKubernetes: false, from: 'lb1.yaml' });
  const services = (port: number): string => `services:
  - name: a
    ports: [{ port: 80 }]
    externalIPs: [10.200.0.5]
    backends: [{ address: 10.100.1.1 }]
  - name: b
    ports: [{ port: ${port} }]
    externalIPs: [10.200.0.6]
    backends: [{ address: 10.100.1.2 }]
`;
  settings.initial(config(services(80)));
  settings.publish();
  const before = inputOf(settings)!.services;
  settings.changed(config(services(8080)));
  const after = inputOf(settings)!.services;
  assert.equal(after.find((s) => s.name === 'a'), before.find((s) => s.name === 'a'), 'a: the same object');
  assert.notEqual(after.find((s) => s.name === 'b'), before.find((s) => s.name === 'b'), 'b: a new object');
  assert.equal(after.find((s) => s.name === 'b')?.ports[0]?.port, 8080);
});
