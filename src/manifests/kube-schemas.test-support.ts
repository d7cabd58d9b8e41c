/**
 * Test support: checks rendered objects against the Kubernetes OpenAPI schemas (the
 * kubernetes-models package) and CRD schemas against the apiextensions v1 structural rules.
 */
import * as admissionregistration from 'kubernetes-models/admissionregistration.k8s.io/v1';
import * as apiextensions from 'kubernetes-models/apiextensions.k8s.io/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import type { KubeObject } from './render.ts';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const groups: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'rbac.authorization.k8s.io/v1': rbac,
  'apiextensions.k8s.io/v1': apiextensions,
  'admissionregistration.k8s.io/v1': admissionregistration,
};

/** Throws with the schema's complaint, or when the package has no model for the kind. */
export function validateAgainstKubernetes(obj: KubeObject): void {
  const model = groups[obj.apiVersion]?.[obj.kind] as ModelClass | undefined;
  if (model === undefined) throw new Error(`no Kubernetes schema for ${obj.apiVersion} ${obj.kind}`);
  new model(obj as never).validate();
}

type Node = Record<string, unknown>;

const allowedKeys = new Set([
  'type', 'description', 'properties', 'required', 'items', 'additionalProperties', 'default', 'enum', 'format', 'pattern',
  'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'maxProperties', 'nullable',
  'x-kubernetes-validations', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type',
]);

/**
 * apiextensions v1 structural schema rules (KEP-1002) that apply to what we write: every node
 * has a type; properties and additionalProperties are never both set; list-map keys are
 * required scalars; only keys the API server knows. Returns every problem with its path.
 */
export function structuralProblems(schema: Node, path = ''): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(schema)) if (!allowedKeys.has(key)) problems.push(`${path}: unknown or disallowed key ${key}`);
  if (typeof schema.type !== 'string') problems.push(`${path}: no type`);
  if (schema.properties !== undefined && schema.additionalProperties !== undefined) problems.push(`${path}: properties and additionalProperties together`);
  if (schema.type === 'array' && schema.items === undefined) problems.push(`${path}: array without items`);
  if (schema['x-kubernetes-list-type'] === 'map') {
    const item = schema.items as Node;
    const required = (item.required ?? []) as string[];
    for (const key of (schema['x-kubernetes-list-map-keys'] ?? []) as string[]) {
      if (!required.includes(key)) problems.push(`${path}: list-map key ${key} is not required`);
    }
  }
  for (const [name, child] of Object.entries((schema.properties ?? {}) as Record<string, Node>)) {
    problems.push(...structuralProblems(child, `${path}.${name}`));
  }
  if (schema.items !== undefined) problems.push(...structuralProblems(schema.items as Node, `${path}[]`));
  if (typeof schema.additionalProperties === 'object') problems.push(...structuralProblems(schema.additionalProperties as Node, `${path}{}`));
  return problems;
}

/** Every schema node under `schema`, with its path (for checks like "CEL strings are bounded"). */
export function* schemaNodes(schema: Node, path = ''): Generator<[string, Node]> {
  yield [path, schema];
  for (const [name, child] of Object.entries((schema.properties ?? {}) as Record<string, Node>)) yield* schemaNodes(child, `${path}.${name}`);
  if (schema.items !== undefined) yield* schemaNodes(schema.items as Node, `${path}[]`);
  if (typeof schema.additionalProperties === 'object') yield* schemaNodes(schema.additionalProperties as Node, `${path}{}`);
}
