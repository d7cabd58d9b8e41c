// `vipgate manifests --monitoring`: the alerts of deploy/monitoring/vipgate-rules.yaml as a
// prometheus-operator PrometheusRule, and PodMonitors that scrape the controller's and the agents'
// `metrics` ports. The rule file is the one source: it is read here, not copied, so the objects
// carry exactly what `promtool` tests (test/monitoring.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { commonLabels, selectorLabels } from '../kube-model/names.ts';
import { projectRoot } from '../project-root.ts';
import type { ManifestOptions } from './options.ts';
import type { KubeObject } from './render.ts';

/** Where the rule file lives in a checkout and in the image (/opt/vipgate/deploy/monitoring). */
export function rulesPath(): string {
  return join(projectRoot(), 'deploy', 'monitoring', 'vipgate-rules.yaml');
}

/** A prometheus-operator object (its CRDs are the cluster's, not vipgate's). */
export interface OperatorObject extends KubeObject {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Readonly<Record<string, string>> };
  readonly spec: object;
}

export function monitoringObjects(o: ManifestOptions): OperatorObject[] {
  const rules = parse(readFileSync(rulesPath(), 'utf8')) as { groups: unknown[] };
  const podMonitor = (component: 'controller' | 'agent'): OperatorObject => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: `vipgate-${component}`, namespace: o.namespace, labels: commonLabels('monitoring') },
    spec: {
      selector: { matchLabels: selectorLabels(component) },
      podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
    },
  });
  return [
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'vipgate', namespace: o.namespace, labels: commonLabels('monitoring') },
      spec: { groups: rules.groups },
    },
    podMonitor('controller'),
    podMonitor('agent'),
  ];
}
