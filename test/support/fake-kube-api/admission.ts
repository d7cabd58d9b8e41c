// The glue between a write and the validating admission module: the attributes of the request
// and the view of the cluster the policies read (their params, the namespace).
import { admit, type AdmissionCluster } from './admission-policy.ts';
import { ApiError } from './errors.ts';
import { isObject, nameOf } from './json.ts';
import type { Catalog } from './catalog.ts';
import { apiVersionOf, type ResourceType } from './resource-type.ts';
import type { UserInfo } from './rbac.ts';
import type { Store, WriteOptions } from './store.ts';

export interface AdmissionContext {
  readonly store: Store;
  readonly catalog: Catalog;
  /** Until this time (ms since epoch) custom kinds look not-served to admission (after a restart). */
  readonly paramKindBlindUntil: number;
}

function cluster(ctx: AdmissionContext): AdmissionCluster {
  const builtin = (plural: string, group: string): ResourceType => ctx.catalog.byPlural(plural, group)!;
  return {
    policies: () => ctx.store.list(builtin('validatingadmissionpolicies', 'admissionregistration.k8s.io'), undefined),
    bindings: () => ctx.store.list(builtin('validatingadmissionpolicybindings', 'admissionregistration.k8s.io'), undefined),
    list: (apiVersion, kind, namespace) => {
      const r = ctx.catalog.byKind(apiVersion, kind);
      if (r === undefined || (r.crd !== undefined && Date.now() < ctx.paramKindBlindUntil)) return 'not-served';
      return ctx.store.list(r, namespace);
    },
    namespace: (name) => ctx.store.peek(builtin('namespaces', ''), undefined, name),
  };
}

/** The `admit` hook of a write: every create, update, patch and delete goes through it. */
export function admission(ctx: AdmissionContext, r: ResourceType, user: UserInfo, namespace: string | undefined, name: string, dryRun: boolean): NonNullable<WriteOptions['admit']> {
  return ({ operation, object, oldObject, subresource }) => {
    const verdict = admit({
      operation, group: r.group, version: r.version, resource: r.plural, kind: r.kind,
      ...(subresource === undefined ? {} : { subresource }),
      ...(namespace === undefined ? {} : { namespace }),
      name: name !== '' || object === null ? name : nameOf(object),
      object, oldObject, userInfo: { username: user.username, groups: user.groups }, dryRun,
    }, cluster(ctx));
    if (verdict.allowed) return verdict.warnings;
    const s = verdict.status;
    throw new ApiError(verdict.code, typeof s['reason'] === 'string' ? s['reason'] : '', typeof s['message'] === 'string' ? s['message'] : '', isObject(s['details']) ? s['details'] : undefined);
  };
}

export { apiVersionOf };
