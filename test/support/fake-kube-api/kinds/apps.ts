// Deployments and DaemonSets: stored with the defaults the apps/v1 registry fills (no
// controller runs them, as in the recorded cluster).
import type { JsonObject } from '../json.ts';
import { builtin, type ResourceType, type WriteContext } from '../resource-type.ts';
import { obj } from './decode.ts';
import { podSpecDefaults } from './pod-spec.ts';

function template(spec: JsonObject): void {
  const t = obj(spec['template']) ?? (spec['template'] = {});
  const m = obj(t['metadata']) ?? (t['metadata'] = {});
  // A Go struct without omitempty: templates come back with a null creationTimestamp.
  m['creationTimestamp'] ??= null;
  podSpecDefaults(obj(t['spec']) ?? (t['spec'] = {}));
}

const keepStatus = (o: JsonObject, ctx: WriteContext): boolean => ctx.subresource === 'status' || (o['spec'] === undefined && ctx.operation === 'UPDATE');

export const deployment: ResourceType = builtin({
  group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, hasStatus: true, hasGeneration: true,
  fields: ['spec', 'status'],
  prepare: (o, ctx) => {
    if (keepStatus(o, ctx)) return;
    const s = obj(o['spec']) ?? (o['spec'] = {});
    s['replicas'] ??= 1;
    template(s);
    s['strategy'] ??= { type: 'RollingUpdate' };
    const strategy = obj(s['strategy'])!;
    if (strategy['type'] === 'RollingUpdate') strategy['rollingUpdate'] = { maxUnavailable: '25%', maxSurge: '25%', ...(obj(strategy['rollingUpdate']) ?? {}) };
    s['revisionHistoryLimit'] ??= 10;
    s['progressDeadlineSeconds'] ??= 600;
    if (ctx.operation === 'CREATE') o['status'] = {};
  },
});

export const daemonSet: ResourceType = builtin({
  group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true, hasStatus: true, hasGeneration: true,
  fields: ['spec', 'status'],
  prepare: (o, ctx) => {
    if (keepStatus(o, ctx)) return;
    const s = obj(o['spec']) ?? (o['spec'] = {});
    template(s);
    s['updateStrategy'] ??= { type: 'RollingUpdate' };
    const strategy = obj(s['updateStrategy'])!;
    if (strategy['type'] === 'RollingUpdate') strategy['rollingUpdate'] = { maxUnavailable: 1, maxSurge: 0, ...(obj(strategy['rollingUpdate']) ?? {}) };
    s['revisionHistoryLimit'] ??= 10;
    const m = obj(o['metadata'])!;
    const generation = ctx.old === undefined ? 1 : Number(obj(ctx.old['metadata'])?.['generation'] ?? 1);
    m['annotations'] = { ...(obj(m['annotations']) ?? {}), 'deprecated.daemonset.template.generation': String(generation) };
    if (ctx.operation === 'CREATE') o['status'] = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
  },
});
