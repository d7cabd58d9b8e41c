// Core kinds besides Services and Events: what their registries default and check.
import { randomBytes } from 'node:crypto';
import { field, type Cause } from '../errors.ts';
import { isObject, nameOf, type JsonObject } from '../json.ts';
import { LEASE } from '../known-fields.ts';
import { builtin, type ResourceType } from '../resource-type.ts';
import { conditionTimes, int32, obj, objs, time } from './decode.ts';
import { podSpecDefaults } from './pod-spec.ts';

export const namespace: ResourceType = builtin({
  group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, hasStatus: true, deleteReturnsObject: true,
  fields: ['spec', 'status'],
  prepare: (o, ctx) => {
    if (ctx.subresource === 'status') return;
    const m = obj(o['metadata'])!;
    // The NamespaceDefaultLabelName feature: every namespace carries its own name as a label.
    m['labels'] = { ...(obj(m['labels']) ?? {}), 'kubernetes.io/metadata.name': nameOf(o) };
    o['spec'] = { finalizers: ['kubernetes'], ...(obj(o['spec']) ?? {}) };
    if (ctx.operation === 'CREATE') o['status'] = { phase: 'Active' };
  },
});

/** A random 5-character suffix, as generateName gets (and the ServiceAccount token volume). */
export const suffix = (): string => {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
};

export const pod: ResourceType = builtin({
  group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, hasStatus: true, deleteReturnsObject: true,
  fields: ['spec', 'status'],
  decode: (o) => {
    const st = obj(o['status']);
    time(pod, st, 'startTime');
    conditionTimes(pod, st?.['conditions'], ['lastTransitionTime', 'lastProbeTime']);
  },
  prepare: (o, ctx) => {
    if (ctx.subresource === 'status') {
      for (const c of objs(obj(o['status'])?.['conditions'])) if (!('lastProbeTime' in c)) c['lastProbeTime'] = null;
      return;
    }
    if (ctx.operation !== 'CREATE') return;
    const spec = obj(o['spec']) ?? (o['spec'] = {});
    spec['serviceAccountName'] ??= 'default'; // ServiceAccount admission
    podSpecDefaults(spec);
    spec['priority'] ??= 0;
    spec['enableServiceLinks'] ??= true;
    spec['preemptionPolicy'] ??= 'PreemptLowerPriority';
    // DefaultTolerationSeconds admission.
    const tolerations = objs(spec['tolerations']);
    for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
      if (!tolerations.some((t) => t['key'] === key)) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
    }
    spec['tolerations'] = tolerations;
    // ServiceAccount admission: the projected token volume, mounted in every container.
    const volume = `kube-api-access-${suffix()}`;
    spec['volumes'] = [...objs(spec['volumes']), {
      name: volume,
      projected: {
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
        defaultMode: 420,
      },
    }];
    for (const c of objs(spec['containers'])) {
      c['resources'] ??= {};
      c['volumeMounts'] = [...objs(c['volumeMounts']), { name: volume, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }];
    }
    o['status'] = { phase: 'Pending', qosClass: 'BestEffort' };
  },
  validate: (o) => (objs(obj(o['spec'])?.['containers']).length === 0 ? [field.required('spec.containers')] : []),
});

export const node: ResourceType = builtin({
  group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, hasStatus: true,
  fields: ['spec', 'status'],
  decode: (o) => conditionTimes(node, obj(o['status'])?.['conditions'], ['lastHeartbeatTime', 'lastTransitionTime']),
  prepare: (o, ctx) => {
    if (ctx.operation !== 'CREATE' || ctx.subresource === 'status') return;
    const spec = obj(o['spec']) ?? (o['spec'] = {});
    // TaintNodesByCondition admission: a new node is not ready until its kubelet says so.
    const taints = objs(spec['taints']);
    if (!taints.some((t) => t['key'] === 'node.kubernetes.io/not-ready')) taints.push({ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' });
    spec['taints'] = taints;
    const status = obj(o['status']) ?? {};
    const empty = ['machineID', 'systemUUID', 'bootID', 'kernelVersion', 'osImage', 'containerRuntimeVersion', 'kubeletVersion', 'kubeProxyVersion', 'operatingSystem', 'architecture'];
    o['status'] = {
      ...status,
      daemonEndpoints: obj(status['daemonEndpoints']) ?? { kubeletEndpoint: { Port: 0 } },
      nodeInfo: { ...Object.fromEntries(empty.map((k) => [k, ''])), ...(obj(status['nodeInfo']) ?? {}) },
    };
  },
});

const dataKeys = (o: JsonObject, key: 'data' | 'binaryData'): Cause[] => {
  const causes: Cause[] = [];
  for (const k of Object.keys(obj(o[key]) ?? {})) {
    if (!/^[-._a-zA-Z0-9]+$/.test(k)) causes.push(field.invalid(`${key}[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
  }
  return causes;
};

export const configMap: ResourceType = builtin({
  group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, fields: ['data', 'binaryData', 'immutable'],
  validate: (o) => [...dataKeys(o, 'data'), ...dataKeys(o, 'binaryData')],
});

/** Secrets: `stringData` is folded into `data` on write, as a real server does. */
export const secret: ResourceType = builtin({
  group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, fields: ['data', 'stringData', 'type', 'immutable'],
  prepare: (o) => {
    const plain = o['stringData'];
    if (isObject(plain)) {
      const data = isObject(o['data']) ? o['data'] : (o['data'] = {});
      for (const [k, v] of Object.entries(plain)) data[k] = Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8').toString('base64');
      delete o['stringData'];
    }
    o['type'] ??= 'Opaque';
  },
  validate: (o) => dataKeys(o, 'data'),
});

export const serviceAccount: ResourceType = builtin({
  group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, fields: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
});

export const endpoints: ResourceType = builtin({
  group: '', version: 'v1', plural: 'endpoints', kind: 'Endpoints', namespaced: true, createOnUpdate: true, fields: ['subsets'],
});

export const lease: ResourceType = builtin({
  group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, unconditionalUpdate: false, createOnUpdate: true,
  known: LEASE,
  decode: (o) => {
    const s = obj(o['spec']);
    int32(lease, s?.['leaseDurationSeconds'], 'LeaseSpec.spec.leaseDurationSeconds');
    int32(lease, s?.['leaseTransitions'], 'LeaseSpec.spec.leaseTransitions');
    time(lease, s, 'acquireTime', true);
    time(lease, s, 'renewTime', true);
  },
  validate: (o) => {
    const s = obj(o['spec']) ?? {};
    const causes: Cause[] = [];
    const d = s['leaseDurationSeconds'];
    if (typeof d === 'number' && d <= 0) causes.push(field.invalid('spec.leaseDurationSeconds', d, 'must be greater than 0'));
    const t = s['leaseTransitions'];
    if (typeof t === 'number' && t < 0) causes.push(field.invalid('spec.leaseTransitions', t, 'must be greater than or equal to 0'));
    return causes;
  },
});
