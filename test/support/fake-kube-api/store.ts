import { randomUUID } from 'node:crypto';
import { admitCustomResource } from './crd-schema.ts';
import { ApiError, badRequest, conflict, field, invalid, invalidResource, notFound, alreadyExists, type Cause } from './errors.ts';
import { nowTime } from './gotime.ts';
import { clone, deepEqual, isObject, meta, str, type JsonObject } from './json.ts';
import { dropUnknown } from './known-fields.ts';
import { suffix } from './kinds/core.ts';
import { Allocator, apiVersionOf, type ResourceType, type WriteContext } from './resource-type.ts';

export { ApiError } from './errors.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change as history and listeners see it: `object` and `previous` are the stored objects, not copies; read them, never change them. */
export interface StoredEvent {
  readonly rv: number;
  readonly type: WatchEventType;
  readonly object: JsonObject;
  /** The object before the change, so a selector-filtered watch can turn it into ADDED/DELETED. */
  readonly previous: JsonObject | undefined;
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** How a write came in: the HTTP layer sets these; direct calls from tests take the defaults. */
export interface WriteOptions {
  /** Unknown fields: refused (Strict), dropped with a warning (Warn, the default), dropped (Ignore). */
  readonly fieldValidation?: FieldValidation;
  readonly dryRun?: boolean;
  /** A PUT: a missing resourceVersion is refused where the kind does not allow unconditional updates. */
  readonly put?: boolean;
  /** A PATCH: strict-decoding errors are 422 rather than 400. */
  readonly patch?: boolean;
  /** Validating admission: throws to refuse, may add warnings. It reads the objects (shared with the store), never changes them. */
  readonly admit?: (a: { operation: 'CREATE' | 'UPDATE' | 'DELETE'; object: JsonObject | null; oldObject: JsonObject | null; subresource: 'status' | undefined }) => readonly string[];
  /** Warning headers the write produced are appended here. */
  readonly warnings?: string[];
}

export interface DeleteOptions {
  readonly gracePeriodSeconds?: number;
  readonly dryRun?: boolean;
  readonly admit?: WriteOptions['admit'];
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SUBDOMAIN_HELP =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1035_HELP =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1123_HELP =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/** Metadata only the server sets: kept from the stored object on every update. */
const SERVER_OWNED = ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const;

/**
 * Objects by storage key (kinds that are views of one set share one), one resourceVersion counter
 * for all of them (like etcd's revision), and the change history watches resume from (the watch
 * cache: it starts at `cacheStartRv`, and survives an etcd compaction; a restart restarts it).
 */
export class Store {
  rv = 1;
  /** LISTs at an exact resourceVersion before this are gone (etcd compaction). */
  compactedRv = 0;
  /** The oldest resourceVersion the watch cache can resume from. */
  cacheStartRv = 0;
  readonly allocator = new Allocator();
  readonly #objects = new Map<string, Map<string, JsonObject>>();
  /** Each bucket's keys in order, kept until a create or delete (updates keep the order). */
  readonly #sorted = new Map<string, string[]>();
  readonly #history = new Map<string, StoredEvent[]>();
  readonly #listeners = new Set<(r: ResourceType, e: StoredEvent) => void>();

  onChange(listener: (r: ResourceType, e: StoredEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stored objects (not copies: read, never change), by namespace/name as etcd orders them. */
  items(r: ResourceType, namespace: string | undefined): JsonObject[] {
    const bucket = this.#objects.get(r.storage);
    if (bucket === undefined) return [];
    let keys = this.#sorted.get(r.storage);
    if (keys === undefined) this.#sorted.set(r.storage, (keys = [...bucket.keys()].sort()));
    const prefix = namespace === undefined ? undefined : `${namespace}/`;
    const out: JsonObject[] = [];
    for (const k of keys) if (prefix === undefined || k.startsWith(prefix)) out.push(bucket.get(k)!);
    return out;
  }

  /** The stored object (not a copy), or undefined. */
  peek(r: ResourceType, namespace: string | undefined, name: string): JsonObject | undefined {
    return this.#objects.get(r.storage)?.get(`${namespace ?? ''}/${name}`);
  }

  /** Copies, as `r`'s version shows them. */
  list(r: ResourceType, namespace: string | undefined): JsonObject[] {
    return this.items(r, namespace).map((o) => this.view(r, o));
  }

  get(r: ResourceType, namespace: string | undefined, name: string): JsonObject {
    const found = this.peek(r, namespace, name);
    if (found === undefined) throw notFound(r, name);
    return this.view(r, found);
  }

  /** A copy of a stored object as `r`'s version shows it (apiVersion and kind included). */
  view(r: ResourceType, stored: JsonObject): JsonObject {
    const body = r.fromStored === undefined ? clone(stored) : clone(r.fromStored(stored));
    return { apiVersion: apiVersionOf(r), kind: r.kind, ...withoutTypeMeta(body) };
  }

  /** A stored object as `r`'s version shows it, for serializing at once: shares the stored parts, not a copy. */
  wire(r: ResourceType, stored: JsonObject): JsonObject {
    return { apiVersion: apiVersionOf(r), kind: r.kind, ...(r.fromStored === undefined ? stored : r.fromStored(stored)) };
  }

  /** Events after `rv` (exclusive); throws 410 when the watch cache does not reach back that far. */
  since(r: ResourceType, rv: number): StoredEvent[] {
    if (rv < this.cacheStartRv) throw new ApiError(410, 'Expired', `too old resource version: ${rv} (${this.cacheStartRv})`);
    return (this.#history.get(r.storage) ?? []).filter((e) => e.rv > rv);
  }

  /** An etcd compaction: exact reads of older versions are gone (the watch cache still has them). */
  compact(): void {
    this.compactedRv = this.rv;
  }

  /** An apiserver restart: the watch cache starts over at the current version. */
  restartCache(): void {
    this.cacheStartRv = this.rv;
    for (const h of this.#history.values()) h.length = 0;
  }

  create(r: ResourceType, namespace: string | undefined, body: JsonObject, opts: WriteOptions = {}): JsonObject {
    const warnings: string[] = opts.warnings ?? [];
    let obj = this.#decode(r, body, opts, warnings);
    let m = meta(obj);
    this.#checkNamespace(m, namespace);
    if (namespace !== undefined) m['namespace'] = namespace;
    if ((m['name'] === undefined || m['name'] === '') && typeof m['generateName'] === 'string') m['name'] = `${m['generateName']}${suffix()}`;
    const name = str(m['name']) ?? '';
    const ctx: WriteContext = { operation: 'CREATE', subresource: undefined, old: undefined, allocator: this.allocator, warnings };
    if (r.hasStatus) delete obj['status']; // a create sets no status; the strategy may set the initial one
    obj = this.#custom(r, obj, 'CREATE', undefined, undefined, opts, warnings);
    m = meta(obj); // the schema step returns a new object
    r.prepare?.(obj, ctx);
    this.#validate(r, obj, ctx, name);
    for (const k of ['uid', 'resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const) Reflect.deleteProperty(m, k);
    m['uid'] = randomUUID();
    m['creationTimestamp'] = nowTime();
    if (r.hasGeneration) m['generation'] = 1;
    else delete m['generation'];
    for (const w of opts.admit?.({ operation: 'CREATE', object: this.wire(r, obj), oldObject: null, subresource: undefined }) ?? []) warnings.push(w);
    const key = `${namespace ?? ''}/${name}`;
    if (this.#bucket(r).has(key)) throw alreadyExists(r, name);
    r.allocate?.(obj, ctx);
    if (opts.dryRun === true) return this.view(r, { ...obj, metadata: { ...m, resourceVersion: String(this.rv) } });
    return this.view(r, this.#commit(r, key, 'ADDED', obj, undefined));
  }

  /**
   * Replaces an object. `subresource` 'status' takes only status; the main resource keeps the
   * stored status. A set `metadata.resourceVersion` that is not the current one is a conflict.
   */
  update(r: ResourceType, namespace: string | undefined, name: string, body: JsonObject, subresource: 'status' | undefined, opts: WriteOptions = {}): JsonObject {
    // Read, not copied: stored objects are never changed in place (a change stores a new one),
    // so the new version may share the parts it keeps with the old.
    const current = this.peek(r, namespace, name);
    if (current === undefined) {
      if (r.createOnUpdate && subresource === undefined) {
        const fresh = isObject(body['metadata']) ? { ...body, metadata: { ...body['metadata'] } } : body;
        if (isObject(fresh['metadata'])) delete fresh['metadata']['resourceVersion'];
        return this.create(r, namespace, fresh, opts);
      }
      throw notFound(r, name);
    }
    const warnings: string[] = opts.warnings ?? [];
    let next = this.#decode(r, body, opts, warnings);
    const m = meta(next);
    const cm = meta(current);
    if (m['name'] !== name) throw badRequest(`the name of the object (${str(m['name']) ?? ''}) does not match the name on the URL (${name})`);
    this.#checkNamespace(m, namespace);
    const sent = m['resourceVersion'];
    if (sent === undefined || sent === '') {
      if (opts.put === true && !r.unconditionalUpdate) {
        throw invalidResource(r, name, [{ reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update', field: 'metadata.resourceVersion' }]);
      }
    } else if (sent !== cm['resourceVersion']) throw conflict(r, name);
    const ctx: WriteContext = { operation: 'UPDATE', subresource, old: current, allocator: this.allocator, warnings };
    let result: JsonObject;
    if (subresource === 'status') {
      result = { ...clone(current), status: next['status'] ?? {} };
    } else {
      result = next;
      if (r.hasStatus) {
        if (current['status'] === undefined) delete result['status'];
        else result['status'] = clone(current['status']);
      }
    }
    const rm = meta(result);
    if (namespace !== undefined) rm['namespace'] = namespace;
    for (const f of SERVER_OWNED) {
      if (cm[f] === undefined) Reflect.deleteProperty(rm, f);
      else rm[f] = cm[f];
    }
    next = this.#custom(r, result, 'UPDATE', current, subresource, opts, warnings);
    result = next;
    r.prepare?.(result, ctx);
    this.#validate(r, result, ctx, name);
    const rmeta = meta(result);
    if (r.hasGeneration && subresource !== 'status') {
      const specChanged = Object.keys({ ...current, ...result }).some((k) => k !== 'metadata' && k !== 'status' && k !== 'apiVersion' && k !== 'kind' && !deepEqual(current[k], result[k]));
      if (specChanged) rmeta['generation'] = Number(cm['generation'] ?? 1) + 1;
    }
    delete rmeta['resourceVersion'];
    // Admission runs before the store sees whether anything changed: a no-op write is admitted too.
    for (const w of opts.admit?.({ operation: 'UPDATE', object: this.wire(r, result), oldObject: this.wire(r, current), subresource }) ?? []) warnings.push(w);
    const unchanged = deepEqual(stripped(result), stripped(current));
    if (unchanged) return this.view(r, current); // a no-op write does not bump resourceVersion or wake watches
    r.allocate?.(result, ctx);
    if (opts.dryRun === true) return this.view(r, { ...result, metadata: { ...rmeta, resourceVersion: cm['resourceVersion'] ?? null } });
    const committed = this.#commit(r, `${namespace ?? ''}/${name}`, 'MODIFIED', result, current);
    // An object whose deletion waited for finalizers goes once the last one is removed.
    if (rmeta['deletionTimestamp'] !== undefined && !hasFinalizers(committed) && r.plural !== 'pods') return this.#remove(r, namespace, name, committed);
    return this.view(r, committed);
  }

  /**
   * Deletes an object: returns the deleted object (with its deletion fields). A scheduled Pod
   * with a grace period, or an object with finalizers, is only marked (deletionTimestamp) and stays.
   */
  delete(r: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): JsonObject {
    const current = this.peek(r, namespace, name);
    if (current === undefined) throw notFound(r, name);
    const cm = meta(current);
    opts.admit?.({ operation: 'DELETE', object: null, oldObject: this.wire(r, current), subresource: undefined });
    let grace = 0;
    if (r.storage === '/pods') {
      const spec = isObject(current['spec']) ? current['spec'] : {};
      const phase = isObject(current['status']) ? current['status']['phase'] : undefined;
      grace = opts.gracePeriodSeconds ?? (typeof spec['terminationGracePeriodSeconds'] === 'number' ? spec['terminationGracePeriodSeconds'] : 30);
      // Unscheduled or finished pods have no kubelet to wait for.
      if (typeof spec['nodeName'] !== 'string' || phase === 'Succeeded' || phase === 'Failed') grace = 0;
    }
    const marked: JsonObject = { ...current, metadata: { ...cm, deletionTimestamp: cm['deletionTimestamp'] ?? nowTime(grace * 1000), ...(r.storage === '/pods' ? { deletionGracePeriodSeconds: grace } : {}) } };
    if (opts.dryRun === true) return this.view(r, marked);
    if (grace > 0 || hasFinalizers(current)) {
      if (cm['deletionTimestamp'] !== undefined && (grace > 0 || r.storage !== '/pods')) return this.view(r, current);
      if (r.storage !== '/pods') meta(marked)['deletionGracePeriodSeconds'] = 0;
      return this.view(r, this.#commit(r, `${namespace ?? ''}/${name}`, 'MODIFIED', marked, current));
    }
    return this.#remove(r, namespace, name, r.storage === '/pods' ? marked : current);
  }

  #remove(r: ResourceType, namespace: string | undefined, name: string, last: JsonObject): JsonObject {
    const previous = this.peek(r, namespace, name)!;
    this.#bucket(r).delete(`${namespace ?? ''}/${name}`);
    this.#sorted.delete(r.storage);
    r.release?.(previous, this.allocator);
    this.rv++;
    const object = { ...last, metadata: { ...meta(last), resourceVersion: String(this.rv) } };
    this.#record(r, { rv: this.rv, type: 'DELETED', object, previous });
    return this.view(r, object);
  }

  #bucket(r: ResourceType): Map<string, JsonObject> {
    let b = this.#objects.get(r.storage);
    if (b === undefined) {
      b = new Map<string, JsonObject>();
      this.#objects.set(r.storage, b);
    }
    return b;
  }

  #commit(r: ResourceType, key: string, type: WatchEventType, obj: JsonObject, previous: JsonObject | undefined): JsonObject {
    this.rv++;
    const stored = withoutTypeMeta(obj);
    meta(stored)['resourceVersion'] = String(this.rv);
    const bucket = this.#bucket(r);
    if (!bucket.has(key)) this.#sorted.delete(r.storage);
    bucket.set(key, stored);
    // The history and the listeners see the stored object itself (never changed in place).
    this.#record(r, { rv: this.rv, type, object: stored, previous });
    return stored;
  }

  #record(r: ResourceType, event: StoredEvent): void {
    let h = this.#history.get(r.storage);
    if (h === undefined) this.#history.set(r.storage, (h = []));
    h.push(event);
    for (const l of this.#listeners) l(r, event);
  }

  /** The body as the decoder leaves it: type meta checked, unknown fields handled, types and times checked, in stored form. */
  #decode(r: ResourceType, body: JsonObject, opts: WriteOptions, warnings: string[]): JsonObject {
    const obj = clone(body);
    if (r.crd !== undefined) customTypeMeta(r, obj);
    if (obj['apiVersion'] !== undefined && obj['apiVersion'] !== apiVersionOf(r)) {
      throw badRequest(`the API version in the data (${str(obj['apiVersion']) ?? ''}) does not match the expected API version (${apiVersionOf(r)})`);
    }
    if (obj['kind'] !== undefined && obj['kind'] !== r.kind) throw badRequest(`the kind in the data (${str(obj['kind']) ?? ''}) does not match the expected kind (${r.kind})`);
    if (obj['metadata'] !== undefined && !isObject(obj['metadata'])) throw badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: json: cannot unmarshal ${typeof obj['metadata']} into Go struct field ${r.kind}.metadata of type v1.ObjectMeta`);
    let unknown: string[] = [];
    if (r.known !== undefined) unknown = dropUnknown(obj, r.known);
    else if (r.fields !== undefined) {
      unknown = Object.keys(obj).filter((k) => k !== 'apiVersion' && k !== 'kind' && k !== 'metadata' && !r.fields!.includes(k));
      for (const k of unknown) Reflect.deleteProperty(obj, k);
    }
    if (unknown.length > 0) {
      const texts = unknown.map((k) => `unknown field "${k}"`);
      if (opts.fieldValidation === 'Strict') throw badRequest(`strict decoding error: ${texts.join(', ')}`);
      if (opts.fieldValidation !== 'Ignore') warnings.push(...texts);
    }
    // Go decodes a JSON null into the zero value, which omitempty then leaves out: for a
    // built-in kind, a null field is an absent one. (Custom resources keep theirs for the schema.)
    if (r.crd === undefined) dropNulls(obj);
    r.decode?.(obj);
    const stored = r.toStored === undefined ? obj : r.toStored(obj);
    return withoutTypeMeta(stored);
  }

  /** Custom resources: the CRD's schema (pruning, defaults, validation) by the crd-schema module. */
  #custom(r: ResourceType, obj: JsonObject, operation: 'CREATE' | 'UPDATE', old: JsonObject | undefined, subresource: 'status' | undefined, opts: WriteOptions, warnings: string[]): JsonObject {
    if (r.crd === undefined) return obj;
    const verdict = admitCustomResource(r.crd, {
      operation, version: r.version, object: { apiVersion: apiVersionOf(r), kind: r.kind, ...obj },
      ...(old === undefined ? {} : { oldObject: { apiVersion: apiVersionOf(r), kind: r.kind, ...old } }),
      fieldValidation: opts.fieldValidation ?? 'Warn', ...(subresource === undefined ? {} : { subresource }), patch: opts.patch === true,
    });
    if (verdict.error !== undefined) {
      const s = verdict.error.status;
      throw new ApiError(verdict.error.code, str(s['reason']) ?? '', str(s['message']) ?? '', isObject(s['details']) ? s['details'] : undefined);
    }
    warnings.push(...verdict.warnings);
    return withoutTypeMeta(verdict.object);
  }

  #checkNamespace(m: JsonObject, namespace: string | undefined): void {
    const sent = m['namespace'];
    if (sent !== undefined && sent !== '' && sent !== namespace && namespace !== undefined) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
  }

  #validate(r: ResourceType, obj: JsonObject, ctx: WriteContext, name: string): void {
    const causes: Cause[] = [...metadataCauses(r, obj, ctx)];
    if (r.validate !== undefined) causes.push(...r.validate(r.fromStored === undefined ? obj : r.fromStored(obj), ctx));
    // Events are validated in their internal (core) form, whatever version they came through.
    if (causes.length > 0) throw invalid(r.storage === '/events' ? { group: '', plural: 'events', kind: 'Event' } : r, name, causes);
  }
}

function metadataCauses(r: ResourceType, obj: JsonObject, ctx: WriteContext): Cause[] {
  if (ctx.subresource === 'status') return [];
  const m = meta(obj);
  const name = m['name'];
  if (name === undefined || name === '') return [field.required('metadata.name', 'name or generateName is required')];
  if (typeof name !== 'string') return [field.invalid('metadata.name', name, 'must be a string')];
  // Names: DNS labels for Services (they become DNS names) and Namespaces, path segments for
  // RBAC objects ("system:…"), DNS subdomains for the rest.
  if (r.storage === '/services' && !LABEL_1035.test(name)) return [field.invalid('metadata.name', name, LABEL_1035_HELP)];
  if (r.storage === '/namespaces' && !LABEL_1123.test(name)) return [field.invalid('metadata.name', name, LABEL_1123_HELP)];
  if (r.group === 'rbac.authorization.k8s.io') {
    return name === '.' || name === '..' || /[/%]/.test(name) ? [field.invalid('metadata.name', name, 'may not contain \'/\' or \'%\'')] : [];
  }
  if (r.storage !== '/events' && (!SUBDOMAIN.test(name) || name.length > 253)) return [field.invalid('metadata.name', name, SUBDOMAIN_HELP)];
  return [];
}

/**
 * A custom resource is decoded as unstructured data whatever kind it names: a wrong one is a
 * validation error, named after the kind the body claims (recorded: `BGPPeer.vipgate.io "k1" is
 * invalid: kind: Invalid value: "BGPPeer": must be VIPPool`).
 */
function customTypeMeta(r: ResourceType, obj: JsonObject): void {
  const name = str(meta(obj)['name']) ?? '';
  const kind = obj['kind'];
  if (typeof kind === 'string' && kind !== r.kind) throw invalid({ group: r.group, plural: r.plural, kind }, name, [field.invalid('kind', kind, `must be ${r.kind}`)]);
  const apiVersion = obj['apiVersion'];
  if (typeof apiVersion === 'string' && apiVersion !== apiVersionOf(r)) {
    throw invalid(r, name, [field.invalid('apiVersion', apiVersion, `must be ${apiVersionOf(r)}`)]);
  }
}

function dropNulls(o: JsonObject): void {
  for (const [k, v] of Object.entries(o)) {
    if (v === null) Reflect.deleteProperty(o, k);
    else if (isObject(v)) dropNulls(v);
    else if (Array.isArray(v)) for (const item of v) if (isObject(item)) dropNulls(item);
  }
}

function hasFinalizers(o: JsonObject): boolean {
  const f = meta(o)['finalizers'];
  return Array.isArray(f) && f.length > 0;
}

/** Objects are stored without apiVersion and kind: they depend on the version a client reads through. */
function withoutTypeMeta(o: JsonObject): JsonObject {
  if (!('apiVersion' in o) && !('kind' in o)) return o;
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

function stripped(o: JsonObject): JsonObject {
  return { ...withoutTypeMeta(o), metadata: { ...meta(o), resourceVersion: null } };
}
