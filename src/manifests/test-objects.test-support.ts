/** Test support: typed access to rendered objects, so tests read fields without `any`. */
import assert from 'node:assert/strict';
import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import type { IJSONSchemaProps } from 'kubernetes-models/apiextensions.k8s.io/v1/JSONSchemaProps';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { KubeObject } from './render.ts';

export function the<T extends KubeObject>(objects: readonly KubeObject[], kind: T['kind'], name?: string): T {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  assert.ok(found, `no ${kind} ${name ?? ''}`);
  return found as T;
}

export function crdNamed(objects: readonly KubeObject[], name: string): ICustomResourceDefinition {
  return the<ICustomResourceDefinition>(objects, 'CustomResourceDefinition', name);
}

/** The root schema of a CRD's only version. */
export function rootSchema(crd: ICustomResourceDefinition): IJSONSchemaProps {
  const schema = crd.spec.versions[0]?.schema?.openAPIV3Schema;
  assert.ok(schema, `${crd.metadata?.name ?? ''} has no schema`);
  return schema;
}

/** A property of a schema, asserted present. */
export function prop(schema: IJSONSchemaProps | undefined, ...path: string[]): IJSONSchemaProps {
  let node = schema;
  for (const name of path) node = node?.properties?.[name];
  assert.ok(node, `no property ${path.join('.')}`);
  return node;
}

export function podOf(objects: readonly KubeObject[], kind: 'DaemonSet' | 'Deployment'): { pod: IPodSpec; container: IContainer } {
  const workload = kind === 'DaemonSet' ? the<IDaemonSet>(objects, kind) : the<IDeployment>(objects, kind);
  const pod = workload.spec?.template.spec;
  const container = pod?.containers[0];
  assert.ok(pod && container);
  return { pod, container };
}
