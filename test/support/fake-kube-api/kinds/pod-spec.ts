// The defaults a PodSpec gets, in Pods and in workload templates alike (pkg/apis/core/v1/defaults.go).
import type { JsonObject } from '../json.ts';
import { obj, objs } from './decode.ts';

function probe(p: JsonObject | undefined): void {
  if (p === undefined) return;
  const http = obj(p['httpGet']);
  if (http !== undefined) http['scheme'] ??= 'HTTP';
  p['timeoutSeconds'] ??= 1;
  p['periodSeconds'] ??= 10;
  p['successThreshold'] ??= 1;
  p['failureThreshold'] ??= 3;
}

function container(c: JsonObject): void {
  c['terminationMessagePath'] ??= '/dev/termination-log';
  c['terminationMessagePolicy'] ??= 'File';
  const image = typeof c['image'] === 'string' ? c['image'] : '';
  c['imagePullPolicy'] ??= image.endsWith(':latest') || !/:[^/]+$/.test(image) ? 'Always' : 'IfNotPresent';
  for (const p of objs(c['ports'])) p['protocol'] ??= 'TCP';
  for (const e of objs(c['env'])) {
    const ref = obj(obj(e['valueFrom'])?.['fieldRef']);
    if (ref !== undefined) ref['apiVersion'] ??= 'v1';
  }
  probe(obj(c['livenessProbe']));
  probe(obj(c['readinessProbe']));
  probe(obj(c['startupProbe']));
}

export function podSpecDefaults(spec: JsonObject): void {
  for (const c of [...objs(spec['containers']), ...objs(spec['initContainers'])]) container(c);
  spec['restartPolicy'] ??= 'Always';
  spec['terminationGracePeriodSeconds'] ??= 30;
  spec['dnsPolicy'] ??= 'ClusterFirst';
  if (typeof spec['serviceAccountName'] === 'string') spec['serviceAccount'] ??= spec['serviceAccountName'];
  spec['securityContext'] ??= {};
  spec['schedulerName'] ??= 'default-scheduler';
}
