// The fields a built-in kind's Go types have, for the kinds vipgate writes: what the decoder
// does not know is dropped, with a warning (`unknown field "spec.foo"`), or refused under
// fieldValidation=Strict. `true`: a leaf or a map with free keys; `[fields]`: a list of objects.
import { isObject, type JsonObject } from './json.ts';

export interface Fields {
  readonly [field: string]: Fields | true | readonly [Fields];
}

const leaves = (...names: string[]): Fields => Object.fromEntries(names.map((n) => [n, true]));

export const METADATA: Fields = leaves(
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp',
  'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
);

const objectReference = leaves('kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath');
const condition = leaves('type', 'status', 'observedGeneration', 'lastTransitionTime', 'reason', 'message');

export const SERVICE: Fields = {
  metadata: METADATA,
  spec: {
    ...leaves(
      'selector', 'clusterIP', 'clusterIPs', 'type', 'externalIPs', 'sessionAffinity', 'loadBalancerIP', 'loadBalancerSourceRanges', 'externalName',
      'externalTrafficPolicy', 'healthCheckNodePort', 'publishNotReadyAddresses', 'ipFamilies', 'ipFamilyPolicy', 'allocateLoadBalancerNodePorts',
      'loadBalancerClass', 'internalTrafficPolicy', 'trafficDistribution',
    ),
    ports: [leaves('name', 'protocol', 'appProtocol', 'port', 'targetPort', 'nodePort')],
    sessionAffinityConfig: { clientIP: leaves('timeoutSeconds') },
  },
  status: {
    loadBalancer: { ingress: [{ ...leaves('ip', 'hostname', 'ipMode'), ports: [leaves('port', 'protocol', 'error')] }] },
    conditions: [condition],
  },
};

export const LEASE: Fields = {
  metadata: METADATA,
  spec: leaves('holderIdentity', 'leaseDurationSeconds', 'acquireTime', 'renewTime', 'leaseTransitions', 'strategy', 'preferredHolder'),
};

export const ENDPOINT_SLICE: Fields = {
  metadata: METADATA,
  addressType: true,
  endpoints: [{
    ...leaves('addresses', 'hostname', 'nodeName', 'zone', 'deprecatedTopology'),
    conditions: leaves('ready', 'serving', 'terminating'),
    targetRef: objectReference,
    hints: { forZones: [leaves('name')], forNodes: [leaves('name')] },
  }],
  ports: [leaves('name', 'protocol', 'port', 'appProtocol')],
};

export const EVENT: Fields = {
  metadata: METADATA,
  ...leaves('reason', 'message', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'action', 'reportingComponent', 'reportingInstance'),
  involvedObject: objectReference,
  related: objectReference,
  source: leaves('component', 'host'),
  series: leaves('count', 'lastObservedTime'),
};

export const EVENT_V1: Fields = {
  metadata: METADATA,
  ...leaves('eventTime', 'reportingController', 'reportingInstance', 'action', 'reason', 'note', 'type', 'deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedCount'),
  series: leaves('count', 'lastObservedTime'),
  regarding: objectReference,
  related: objectReference,
  deprecatedSource: leaves('component', 'host'),
};

/** Removes what `fields` does not know from `obj`, in place; returns the paths removed. */
export function dropUnknown(obj: JsonObject, fields: Fields, path = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (path === '' && (k === 'apiVersion' || k === 'kind')) continue;
    const at = path === '' ? k : `${path}.${k}`;
    const known = fields[k];
    if (known === undefined) {
      out.push(at);
      Reflect.deleteProperty(obj, k);
    } else if (Array.isArray(known)) {
      if (Array.isArray(v)) v.forEach((item, i) => isObject(item) && out.push(...dropUnknown(item, (known as readonly [Fields])[0], `${at}[${i}]`)));
    } else if (known !== true && isObject(v)) out.push(...dropUnknown(v, known as Fields, at));
  }
  return out;
}
