// Shared by the test/kube-*.test.ts files: objects and waits over the fake API server.
import assert from 'node:assert/strict';
import pino from 'pino';
import { renderManifests } from '../../../src/manifests/index.ts';
import type { FakeKubeApi, JsonObject } from './index.ts';

export const quietLog = pino({ level: process.env['VIPGATE_TEST_LOG'] ?? 'silent' });

export function service(name: string, more: { namespace?: string; annotations?: Record<string, string>; spec?: JsonObject } = {}): JsonObject {
  return {
    metadata: { name, namespace: more.namespace ?? 'default', ...(more.annotations === undefined ? {} : { annotations: more.annotations }) },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...more.spec },
  };
}

export function vipPool(name: string, spec: JsonObject): JsonObject {
  return { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name }, spec };
}

export function create(api: FakeKubeApi, plural: string, obj: JsonObject, group?: string): JsonObject {
  const r = api.resource(plural, group);
  const ns = r.namespaced ? ((obj['metadata'] as JsonObject)['namespace'] as string | undefined) ?? 'default' : undefined;
  // As a test would `kubectl create namespace` first: a real server refuses writes into a missing one.
  if (ns !== undefined) ensureNamespace(api, ns);
  return api.store.create(r, ns, obj);
}

export function ingressOf(api: FakeKubeApi, name: string, namespace = 'default'): string[] {
  const svc = api.store.get(api.resource('services'), namespace, name);
  const ingress = ((svc['status'] as JsonObject | undefined)?.['loadBalancer'] as JsonObject | undefined)?.['ingress'];
  return Array.isArray(ingress) ? ingress.map((i) => (i as JsonObject)['ip'] as string) : [];
}

export function conditionOf(api: FakeKubeApi, name: string, type: string, namespace = 'default'): JsonObject | undefined {
  const svc = api.store.get(api.resource('services'), namespace, name);
  const conditions = (svc['status'] as JsonObject | undefined)?.['conditions'];
  return Array.isArray(conditions) ? (conditions.find((c) => (c as JsonObject)['type'] === type) as JsonObject | undefined) : undefined;
}

export function eventsFor(api: FakeKubeApi, name: string, namespace = 'default'): { reason: string; message: string }[] {
  return api.store
    .list(api.resource('events', ''), namespace)
    .filter((e) => (e['involvedObject'] as JsonObject)['name'] === name)
    .map((e) => ({ reason: e['reason'] as string, message: e['message'] as string }));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * What `kubectl apply` of `vipgate manifests` creates that vipgate itself needs: the
 * vipgate-system namespace (its Lease and Secrets live there) and the CustomResourceDefinitions
 * (the fake serves custom kinds only from applied CRDs). Not the admission policy: tests that
 * want it apply it themselves.
 */
export function applyVipgateCrds(api: FakeKubeApi): void {
  const manifests = renderManifests();
  for (const ns of manifests.filter((o) => o.kind === 'Namespace')) ensureNamespace(api, ns.metadata?.name ?? '');
  api.applyCrds(manifests.filter((o) => o.kind === 'CustomResourceDefinition') as unknown as JsonObject[]);
}

/** A namespace, created as a client would before using it (a real server refuses writes into a missing one). */
export function ensureNamespace(api: FakeKubeApi, name: string): void {
  const r = api.resource('namespaces');
  if (api.store.peek(r, undefined, name) === undefined) api.store.create(r, undefined, { metadata: { name } });
}
