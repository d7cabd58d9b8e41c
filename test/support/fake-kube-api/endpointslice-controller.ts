// The endpointslice controller of kube-controller-manager, small: for each Service with a
// selector, one IPv4 EndpointSlice of the matching Pods that have an IP, with the conditions the
// real controller derives (ready, serving, terminating), kept current as Pods and Services change,
// and deleted with its Service (the garbage collector's part). Runs synchronously inside the
// write that triggered it, so a client sees the slice as soon as its write is answered.
import { deepEqual, isObject, meta, nameOf, type Json, type JsonObject } from './json.ts';
import { obj, objs } from './kinds/decode.ts';
import type { ResourceType } from './resource-type.ts';
import type { StoredEvent, Store } from './store.ts';

const MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
const CONTROLLER = 'endpointslice-controller.k8s.io';
const SERVICE_NAME = 'kubernetes.io/service-name';

const labelsOf = (o: JsonObject): Record<string, Json> => obj(meta(o)['labels']) ?? {};
const selects = (selector: JsonObject, o: JsonObject): boolean => {
  const labels = labelsOf(o);
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
};

export class EndpointSliceController {
  readonly #store: Store;
  readonly #types: { services: ResourceType; pods: ResourceType; slices: ResourceType; nodes: ResourceType };
  #busy = false;
  /** Services (namespace/name) this controller made slices for: others need no look at the slices. */
  readonly #owners = new Set<string>();

  constructor(store: Store, types: { services: ResourceType; pods: ResourceType; slices: ResourceType; nodes: ResourceType }) {
    this.#store = store;
    this.#types = types;
    store.onChange((r, e) => this.#changed(r, e));
  }

  #changed(r: ResourceType, e: StoredEvent): void {
    if (this.#busy) return; // its own slice writes
    this.#busy = true;
    try {
      const ns = meta(e.object)['namespace'];
      if (typeof ns !== 'string') return;
      if (r.storage === this.#types.services.storage) {
        // A status write (most Service writes) changes nothing the slices are made of.
        if (e.type === 'MODIFIED' && e.previous !== undefined && deepEqual(e.previous['spec'], e.object['spec']) && deepEqual(meta(e.previous)['labels'], meta(e.object)['labels'])) return;
        this.#sync(ns, nameOf(e.object), e.type === 'DELETED');
      }
      else if (r.storage === this.#types.pods.storage) {
        for (const svc of this.#store.items(this.#types.services, ns)) {
          const selector = obj(obj(svc['spec'])?.['selector']);
          if (selector === undefined || Object.keys(selector).length === 0) continue;
          if (selects(selector, e.object) || (e.previous !== undefined && selects(selector, e.previous))) this.#sync(ns, nameOf(svc), false);
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  #slicesOf(ns: string, name: string): JsonObject[] {
    return this.#store.items(this.#types.slices, ns).filter((s) => labelsOf(s)[SERVICE_NAME] === name && labelsOf(s)[MANAGED_BY] === CONTROLLER);
  }

  #sync(ns: string, name: string, deleted: boolean): void {
    const svc = deleted ? undefined : this.#store.peek(this.#types.services, ns, name);
    const spec = svc === undefined ? undefined : obj(svc['spec']);
    const selector = obj(spec?.['selector']);
    const owner = `${ns}/${name}`;
    const unselected = selector === undefined || Object.keys(selector).length === 0;
    if ((svc === undefined || unselected) && !this.#owners.has(owner)) return;
    const existing = this.#slicesOf(ns, name);
    if (svc === undefined || spec === undefined || selector === undefined || Object.keys(selector).length === 0 || spec['type'] === 'ExternalName') {
      for (const s of existing) this.#store.delete(this.#types.slices, ns, nameOf(s));
      this.#owners.delete(owner);
      return;
    }
    const pods = this.#store.items(this.#types.pods, ns).filter((p) => {
      const phase = obj(p['status'])?.['phase'];
      return selects(selector, p) && typeof obj(p['status'])?.['podIP'] === 'string' && phase !== 'Succeeded' && phase !== 'Failed';
    });
    const endpoints = pods.map((p) => this.#endpoint(p, spec['publishNotReadyAddresses'] === true));
    const ports = endpoints.length === 0 ? null : objs(spec['ports']).map((sp) => {
      const target = sp['targetPort'] ?? sp['port'] ?? null;
      return {
        name: sp['name'] ?? '', protocol: sp['protocol'] ?? 'TCP', port: typeof target === 'string' ? namedPort(pods[0]!, target) : target,
        ...(sp['appProtocol'] === undefined ? {} : { appProtocol: sp['appProtocol'] }),
      };
    });
    const m = meta(svc);
    const body: JsonObject = {
      metadata: {
        labels: { ...labelsOf(svc), [MANAGED_BY]: CONTROLLER, [SERVICE_NAME]: name },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: m['uid'] ?? '', controller: true, blockOwnerDeletion: true }],
      },
      addressType: 'IPv4',
      endpoints: endpoints.length === 0 ? null : endpoints,
      ports,
    };
    const [first, ...extra] = existing;
    for (const s of extra) this.#store.delete(this.#types.slices, ns, nameOf(s));
    if (first === undefined) {
      const bm = body['metadata'] as JsonObject;
      bm['generateName'] = `${name}-`;
      bm['annotations'] = { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
      this.#store.create(this.#types.slices, ns, body);
      this.#owners.add(owner);
      return;
    }
    const fm = meta(first);
    this.#store.update(this.#types.slices, ns, nameOf(first), { ...body, metadata: { ...fm, ...(body['metadata'] as JsonObject) } }, undefined);
  }

  #endpoint(p: JsonObject, publishNotReady: boolean): JsonObject {
    const m = meta(p);
    const status = obj(p['status']) ?? {};
    const readyCondition = objs(status['conditions']).find((c) => c['type'] === 'Ready');
    const podReady = readyCondition?.['status'] === 'True';
    const terminating = m['deletionTimestamp'] !== undefined && m['deletionTimestamp'] !== null;
    const nodeName = obj(p['spec'])?.['nodeName'];
    const zone = typeof nodeName === 'string' ? this.#zoneOf(nodeName) : undefined;
    return {
      addresses: [status['podIP'] ?? ''],
      conditions: { ready: publishNotReady || (podReady && !terminating), serving: podReady, terminating },
      targetRef: { kind: 'Pod', namespace: m['namespace'] ?? '', name: m['name'] ?? '', uid: m['uid'] ?? '' },
      ...(typeof nodeName === 'string' ? { nodeName } : {}),
      ...(zone === undefined ? {} : { zone }),
    };
  }

  #zoneOf(nodeName: string): string | undefined {
    const node = this.#store.peek(this.#types.nodes, undefined, nodeName);
    const zone = node === undefined ? undefined : labelsOf(node)['topology.kubernetes.io/zone'];
    return typeof zone === 'string' ? zone : undefined;
  }
}

function namedPort(pod: JsonObject, name: string): Json {
  for (const c of objs(obj(pod['spec'])?.['containers'])) {
    for (const port of objs(c['ports'])) if (port['name'] === name && isObject(port)) return port['containerPort'] ?? null;
  }
  return null;
}
