import { randomUUID } from 'node:crypto';
import { clone, deepEqual, isObject, meta, str, type JsonObject } from './json.ts';
import { apiVersionOf, METADATA_SCHEMA, type ResourceType } from './resources.ts';
import { check } from './schema.ts';

/** A refusal in API terms: HTTP status, `reason` as a real server names it, and a message. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change as history and listeners see it: `object` and `previous` are the stored objects, not copies; read them, never change them. */
export interface StoredEvent {
  readonly rv: number;
  readonly type: WatchEventType;
  readonly object: JsonObject;
  /** The object before the change, so a selector-filtered watch can turn it into ADDED/DELETED. */
  readonly previous: JsonObject | undefined;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Objects by resource type, one resourceVersion counter for all of them (like etcd's revision),
 * and the change history watches resume from. History older than `compactedRv` is gone: a watch
 * from there gets 410, as after an etcd compaction.
 */
export class Store {
  rv = 1;
  compactedRv = 0;
  readonly #objects = new Map<ResourceType, Map<string, JsonObject>>();
  readonly #history = new Map<ResourceType, StoredEvent[]>();
  readonly #listeners = new Set<(r: ResourceType, e: StoredEvent) => void>();

  onChange(listener: (r: ResourceType, e: StoredEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  list(r: ResourceType, namespace: string | undefined): JsonObject[] {
    const all = [...(this.#objects.get(r)?.values() ?? [])];
    return (namespace === undefined ? all : all.filter((o) => meta(o)['namespace'] === namespace)).map((o) => clone(o));
  }

  get(r: ResourceType, namespace: string | undefined, name: string): JsonObject {
    const found = this.#objects.get(r)?.get(`${namespace ?? ''}/${name}`);
    if (found === undefined) throw notFound(r, name);
    return clone(found);
  }

  /** Events after `rv` (exclusive); throws 410 when that history is compacted away. */
  since(r: ResourceType, rv: number): StoredEvent[] {
    if (rv < this.compactedRv) throw new ApiError(410, 'Expired', `too old resource version: ${rv} (${this.compactedRv})`);
    return (this.#history.get(r) ?? []).filter((e) => e.rv > rv);
  }

  compact(): void {
    this.compactedRv = this.rv;
    for (const h of this.#history.values()) h.length = 0;
  }

  create(r: ResourceType, namespace: string | undefined, body: JsonObject): JsonObject {
    const obj = clone(body);
    this.#validate(r, obj, namespace);
    const m = meta(obj);
    if (m['name'] === undefined && typeof m['generateName'] === 'string') m['name'] = `${m['generateName']}${randomUUID().slice(0, 5)}`;
    const name = str(m['name'])!;
    const key = `${namespace ?? ''}/${name}`;
    const bucket = this.#bucket(r);
    if (bucket.has(key)) throw new ApiError(409, 'AlreadyExists', `${r.plural} "${name}" already exists`);
    if (r.hasStatus) delete obj['status']; // a real server drops status on create
    r.defaults?.(obj);
    if (namespace !== undefined) m['namespace'] = namespace;
    m['uid'] = randomUUID();
    m['creationTimestamp'] = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    m['generation'] = 1;
    delete m['resourceVersion'];
    return this.#commit(r, key, 'ADDED', obj, undefined);
  }

  /**
   * Replaces an object. `subresource` 'status' takes only status; the main resource keeps the
   * stored status. A set `metadata.resourceVersion` that is not the current one is a conflict.
   */
  update(r: ResourceType, namespace: string | undefined, name: string, body: JsonObject, subresource: 'status' | undefined): JsonObject {
    // Read, not copied: stored objects are never changed in place (a change stores a new one),
    // so the new version may share the parts it keeps with the old.
    const current = this.#bucket(r).get(`${namespace ?? ''}/${name}`);
    if (current === undefined) throw notFound(r, name);
    const next = clone(body);
    this.#validate(r, next, namespace);
    const m = meta(next);
    const cm = meta(current);
    if (m['name'] !== name) throw new ApiError(400, 'BadRequest', `the name of the object (${JSON.stringify(m['name'])}) does not match the name on the URL (${name})`);
    const sent = m['resourceVersion'];
    if (sent !== undefined && sent !== cm['resourceVersion']) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    let result: JsonObject;
    if (subresource === 'status') {
      result = { ...current, metadata: { ...cm }, status: next['status'] ?? {} };
    } else {
      result = next;
      if (r.hasStatus) {
        if (current['status'] === undefined) delete result['status'];
        else result['status'] = current['status'];
      }
      r.defaults?.(result);
      // Fields the server owns cannot be changed by a client.
      const rm = meta(result);
      for (const f of ['uid', 'creationTimestamp', 'namespace', 'generation'] as const) {
        if (cm[f] === undefined) Reflect.deleteProperty(rm, f);
        else rm[f] = cm[f];
      }
      const specChanged = Object.keys({ ...current, ...result }).some((k) => k !== 'metadata' && k !== 'status' && !deepEqual(current[k], result[k]));
      if (specChanged) rm['generation'] = Number(cm['generation'] ?? 1) + 1;
    }
    delete meta(result)['resourceVersion'];
    // A status write changes nothing else, so comparing the statuses is enough.
    const unchanged = subresource === 'status'
      ? deepEqual(result['status'], current['status'])
      : deepEqual({ ...result, metadata: { ...meta(result), resourceVersion: null } }, { ...current, metadata: { ...cm, resourceVersion: null } });
    if (unchanged) return clone(current); // a no-op write does not bump resourceVersion or wake watches
    return this.#commit(r, `${namespace ?? ''}/${name}`, 'MODIFIED', result, current);
  }

  delete(r: ResourceType, namespace: string | undefined, name: string): JsonObject {
    const current = this.get(r, namespace, name);
    const key = `${namespace ?? ''}/${name}`;
    this.#bucket(r).delete(key);
    this.rv++;
    const object = { ...current, metadata: { ...meta(current), resourceVersion: String(this.rv) } };
    this.#record(r, { rv: this.rv, type: 'DELETED', object, previous: current });
    return clone(object);
  }

  #bucket(r: ResourceType): Map<string, JsonObject> {
    let b = this.#objects.get(r);
    if (b === undefined) {
      b = new Map<string, JsonObject>();
      this.#objects.set(r, b);
    }
    return b;
  }

  #commit(r: ResourceType, key: string, type: WatchEventType, obj: JsonObject, previous: JsonObject | undefined): JsonObject {
    this.rv++;
    meta(obj)['resourceVersion'] = String(this.rv);
    obj['apiVersion'] = apiVersionOf(r);
    obj['kind'] = r.kind;
    this.#bucket(r).set(key, obj);
    // The history and the listeners see the stored object itself (never changed in place).
    this.#record(r, { rv: this.rv, type, object: obj, previous });
    return clone(obj);
  }

  #record(r: ResourceType, event: StoredEvent): void {
    let h = this.#history.get(r);
    if (h === undefined) this.#history.set(r, (h = []));
    h.push(event);
    for (const l of this.#listeners) l(r, event);
  }

  #validate(r: ResourceType, obj: JsonObject, namespace: string | undefined): void {
    const invalid = (message: string): ApiError => new ApiError(422, 'Invalid', `${r.kind} "${str(meta(obj)['name']) ?? ''}" is invalid: ${message}`);
    if (obj['apiVersion'] !== undefined && obj['apiVersion'] !== apiVersionOf(r)) {
      throw new ApiError(400, 'BadRequest', `the API version in the data (${JSON.stringify(obj['apiVersion'])}) does not match the expected API version (${apiVersionOf(r)})`);
    }
    if (obj['kind'] !== undefined && obj['kind'] !== r.kind) {
      throw new ApiError(400, 'BadRequest', `the kind in the data (${JSON.stringify(obj['kind'])}) does not match the expected kind (${r.kind})`);
    }
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'apiVersion' || k === 'kind') continue;
      if (k === 'metadata') {
        const problem = check(METADATA_SCHEMA, v, 'metadata');
        if (problem !== undefined) throw invalid(problem);
        continue;
      }
      const schema = r.schema[k];
      if (schema === undefined) throw new ApiError(400, 'BadRequest', `strict decoding error: unknown field "${k}" in ${r.kind} (known: apiVersion, kind, metadata, ${Object.keys(r.schema).join(', ')})`);
      const problem = check(schema, v, k);
      if (problem !== undefined) throw invalid(problem);
    }
    const m = isObject(obj['metadata']) ? obj['metadata'] : undefined;
    const name = m?.['name'];
    if (name === undefined && typeof m?.['generateName'] !== 'string') throw invalid('metadata.name: Required value: name or generateName is required');
    if (typeof name === 'string' && (!NAME.test(name) || name.length > 253)) {
      throw invalid(`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    }
    if (m?.['namespace'] !== undefined && m['namespace'] !== namespace) {
      throw new ApiError(400, 'BadRequest', `the namespace of the provided object (${JSON.stringify(m['namespace'])}) does not match the namespace sent on the request (${namespace ?? 'none'})`);
    }
  }
}

function notFound(r: ResourceType, name: string): ApiError {
  const what = r.group === '' ? r.plural : `${r.plural}.${r.group}`;
  return new ApiError(404, 'NotFound', `${what} "${name}" not found`);
}
