// The structural-schema half of custom resource handling, as k8s.io/apiextensions-apiserver
// does it: pruning of unknown fields (and the paths it pruned, for Strict/Warn), defaulting,
// and the x-kubernetes-list-type invariants. Driven only by the CRD's openAPIV3Schema.
import { clone, deepEqual, isObject, type Json, type JsonObject } from './json.ts';
import { child, fieldErrors, fieldOf, index, type FieldError } from './crd-messages.ts';

export type Schema = JsonObject;

export const schemaType = (s: Schema): string | undefined => (typeof s['type'] === 'string' ? s['type'] : undefined);
export const properties = (s: Schema): JsonObject | undefined => (isObject(s['properties']) ? s['properties'] : undefined);
export const itemsOf = (s: Schema): Schema | undefined => (isObject(s['items']) ? s['items'] : undefined);
export const additionalOf = (s: Schema): Schema | undefined => (isObject(s['additionalProperties']) ? s['additionalProperties'] : undefined);
export const preservesUnknown = (s: Schema): boolean => s['x-kubernetes-preserve-unknown-fields'] === true;
export const isEmbedded = (s: Schema): boolean => s['x-kubernetes-embedded-resource'] === true;
export const listType = (s: Schema): string | undefined => (typeof s['x-kubernetes-list-type'] === 'string' ? s['x-kubernetes-list-type'] : undefined);
export const mapKeys = (s: Schema): string[] => (Array.isArray(s['x-kubernetes-list-map-keys']) ? s['x-kubernetes-list-map-keys'].filter((k): k is string => typeof k === 'string') : []);
export const propertySchema = (s: Schema, name: string): Schema | undefined => {
  const p = properties(s)?.[name];
  return isObject(p) ? p : undefined;
};

/** Fields every object has whatever its schema says: the root's type meta and metadata. */
const ROOT_IMPLICIT = new Set(['apiVersion', 'kind', 'metadata']);

/**
 * Drops fields the schema does not specify, collecting their paths (`spec.pools[0].owner`),
 * and drops nulls where the schema is not nullable and has no default, as the decoder does.
 * The root's metadata is ObjectMeta's business, not the schema's.
 */
export function prune(schema: Schema, value: Json, path: string, unknown: string[], root = false): Json {
  if (Array.isArray(value)) {
    const items = itemsOf(schema);
    return value.map((v, i) => (items === undefined ? v : prune(items, v, index(path, i), unknown)));
  }
  if (!isObject(value) || isEmbedded(schema)) return value;
  const props = properties(schema);
  const additional = additionalOf(schema);
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const v = value[key]!;
    if (root && ROOT_IMPLICIT.has(key)) {
      out[key] = v;
      continue;
    }
    const sub = props?.[key];
    if (isObject(sub)) out[key] = prune(sub, v, child(path, key), unknown);
    else if (additional !== undefined) out[key] = prune(additional, v, child(path, key), unknown);
    else if (schema['additionalProperties'] === true || preservesUnknown(schema)) out[key] = v;
    else {
      unknown.push(child(path, key));
      continue;
    }
    if (out[key] === null && isObject(sub) && sub['nullable'] !== true && sub['default'] === undefined) Reflect.deleteProperty(out, key);
  }
  return out;
}


/** Fills `default`s of absent properties (and of nulls where null is not allowed), depth first. */
export function applyDefaults(schema: Schema, value: Json): Json {
  if (Array.isArray(value)) {
    const items = itemsOf(schema);
    return items === undefined ? value : value.map((v) => applyDefaults(items, v));
  }
  if (!isObject(value)) return value;
  const out: JsonObject = { ...value };
  const props = properties(schema);
  for (const [key, sub] of Object.entries(props ?? {})) {
    if (!isObject(sub)) continue;
    const cur = out[key];
    const absent = cur === undefined || (cur === null && sub['nullable'] !== true);
    if (absent && sub['default'] !== undefined) out[key] = clone(sub['default']);
    if (out[key] !== undefined) out[key] = applyDefaults(sub, out[key]);
  }
  const additional = additionalOf(schema);
  if (additional !== undefined) for (const key of Object.keys(out)) if (props?.[key] === undefined) out[key] = applyDefaults(additional, out[key]!);
  return out;
}

/**
 * structurallisttype.ValidateListSetsAndMaps: no repeated item in a `set`, no repeated key in a
 * `map` (the duplicate is reported at its second index, a map's key as Go prints the key map).
 */
export function validateListTypes(schema: Schema, value: Json, path: string, errs: FieldError[]): void {
  if (Array.isArray(value)) {
    const kind = listType(schema);
    if (kind === 'set') {
      value.forEach((v, i) => {
        if (value.slice(0, i).some((w) => deepEqual(w, v))) errs.push(fieldErrors.duplicate(fieldOf(index(path, i)), v));
      });
    } else if (kind === 'map') {
      const keys = mapKeys(schema);
      const keyOf = (v: Json): JsonObject => {
        const k: JsonObject = {};
        if (isObject(v)) for (const name of keys) if (v[name] !== undefined) k[name] = v[name];
        return k;
      };
      value.forEach((v, i) => {
        const k = keyOf(v);
        if (value.slice(0, i).some((w) => deepEqual(sortKeys(keyOf(w)), sortKeys(k)))) errs.push(fieldErrors.duplicate(fieldOf(index(path, i)), k));
      });
    }
    const items = itemsOf(schema);
    if (items !== undefined) value.forEach((v, i) => validateListTypes(items, v, index(path, i), errs));
    return;
  }
  if (!isObject(value)) return;
  const additional = additionalOf(schema);
  for (const [key, v] of Object.entries(value)) {
    const sub = propertySchema(schema, key) ?? additional;
    if (sub !== undefined) validateListTypes(sub, v, child(path, key), errs);
  }
}

function sortKeys(o: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}

/**
 * The old value that corresponds to a new one, for ratcheting and transition rules: the same
 * property, the same map key, or the list-map item with the same keys. Atomic lists and sets
 * have no per-item correspondence.
 */
export function correlatedItem(schema: Schema, oldList: Json | undefined, item: Json): Json | undefined {
  if (!Array.isArray(oldList) || listType(schema) !== 'map' || !isObject(item)) return undefined;
  const keys = mapKeys(schema);
  return oldList.find((o) => isObject(o) && keys.every((k) => deepEqual(o[k], item[k])));
}
