import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { KubeObject } from './render.ts';
import { renderManifests } from './render.ts';
import { rulesPath } from './monitoring.ts';

interface Workload extends KubeObject {
  spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: { ports?: { name: string }[] }[] } } };
}
interface PodMonitor extends KubeObject {
  spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string }[] };
}

test('without --monitoring, no prometheus-operator object (the default install needs none of its CRDs)', () => {
  assert.deepEqual(renderManifests().filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/')), []);
});

test('--monitoring: the PrometheusRule carries exactly the tested rule file', () => {
  const rule = renderManifests({ monitoring: true }).find((o) => o.kind === 'PrometheusRule') as (KubeObject & { spec: { groups: unknown } }) | undefined;
  assert.ok(rule !== undefined);
  assert.equal(rule.metadata?.namespace, 'vipgate-system');
  assert.deepEqual(rule.spec.groups, (parse(readFileSync(rulesPath(), 'utf8')) as { groups: unknown }).groups);
});

test('--monitoring: each PodMonitor selects the pods of its workload, on a port they expose', () => {
  const objects = renderManifests({ monitoring: true, namespace: 'lb' });
  const monitors = objects.filter((o) => o.kind === 'PodMonitor') as PodMonitor[];
  assert.deepEqual(monitors.map((m) => m.metadata?.name).sort(), ['vipgate-agent', 'vipgate-controller']);
  for (const monitor of monitors) {
    assert.equal(monitor.metadata?.namespace, 'lb');
    const workloads = (objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet') as Workload[]).filter((w) =>
      Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => w.spec.template.metadata.labels[k] === v),
    );
    assert.equal(workloads.length, 1, "a PodMonitor selects exactly one workload's pods");
    const ports = workloads[0]!.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name));
    for (const endpoint of monitor.spec.podMetricsEndpoints) assert.ok(ports.includes(endpoint.port), `port ${endpoint.port} is exposed`);
  }
});
