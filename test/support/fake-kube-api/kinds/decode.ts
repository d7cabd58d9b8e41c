// Checks the JSON decoder of the API server makes before any validation: a value of the wrong
// JSON type, or a time that does not parse, is a 400 "cannot be handled as a <Kind>".
import { cannotHandle } from '../errors.ts';
import { formatMicroTime, formatTime, parseGoTime, RFC3339, RFC3339_MICRO, TimeParseError } from '../gotime.ts';
import { isObject, type Json, type JsonObject } from '../json.ts';

interface Target {
  readonly kind: string;
  readonly version: string;
}

const jsonType = (v: Json): string => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'object' ? 'object' : typeof v);

/** An int32 field: `goPath` is Go's "Struct.json.path" (LeaseSpec.spec.leaseDurationSeconds). */
export function int32(r: Target, value: Json | undefined, goPath: string): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    const what = typeof value === 'number' ? `number ${String(value)}` : jsonType(value);
    throw cannotHandle(r, `json: cannot unmarshal ${what} into Go struct field ${goPath} of type int32`);
  }
}

/** Re-formats a metav1.Time (or MicroTime) field of `obj` in place; null stays null. */
export function time(r: Target, obj: JsonObject | undefined, key: string, micro = false): void {
  if (obj === undefined) return;
  const v = obj[key];
  if (v === undefined || v === null) return;
  if (typeof v !== 'string') throw cannotHandle(r, `json: cannot unmarshal ${jsonType(v)} into Go value of type string`);
  try {
    const parsed = parseGoTime(v, micro ? RFC3339_MICRO : RFC3339);
    obj[key] = micro ? formatMicroTime(parsed) : formatTime(parsed);
  } catch (error) {
    if (error instanceof TimeParseError) throw cannotHandle(r, error.message);
    throw error;
  }
}

export const obj = (v: Json | undefined): JsonObject | undefined => (isObject(v) ? v : undefined);
export const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
export const objs = (v: Json | undefined): JsonObject[] => arr(v).filter(isObject);

/** Condition lists (metav1.Condition and the core ones): times to whole seconds. */
export function conditionTimes(r: Target, conditions: Json | undefined, keys: readonly string[] = ['lastTransitionTime']): void {
  for (const c of objs(conditions)) for (const k of keys) time(r, c, k);
}
