/** JSON values as the fake API server sees request bodies: nothing is trusted until checked. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A deep copy of a JSON value. Hand-written rather than structuredClone: the server copies
 * every object it stores and returns, and for these small trees a plain walk is ~8× faster
 * (the benchmark's 10,000 status writes spent 0.7 s in structuredClone).
 */
export function clone<T extends Json>(value: T): T {
  return copy(value) as T;
}

function copy(value: Json): Json {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out: Json[] = new Array<Json>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i]!);
    return out;
  }
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    // JSON.parse makes "__proto__" an own key; assigning it would set the prototype instead.
    if (key === '__proto__') Object.defineProperty(out, key, { value: copy(value[key]!), enumerable: true, writable: true, configurable: true });
    else out[key] = copy(value[key]!);
  }
  return out;
}

/** The object's metadata, created when missing (callers have validated the shape). */
export function meta(obj: JsonObject): JsonObject {
  const m = obj['metadata'];
  if (isObject(m)) return m;
  const fresh: JsonObject = {};
  obj['metadata'] = fresh;
  return fresh;
}

export function str(value: Json | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** metadata.name, or '' when missing. */
export function nameOf(obj: JsonObject): string {
  const m = obj['metadata'];
  return isObject(m) && typeof m['name'] === 'string' ? m['name'] : '';
}
