// Replays recorded kube-apiserver exchanges against a server under test (the fake API server)
// and compares the answers the way ../shared/kube-conformance/README.md says ("How a replay
// should compare"). Placeholders in requests are filled from what the server under test itself
// answered; its answers are normalized the same way the recordings were.
import { isDeepStrictEqual } from 'node:util';
import type { Exchange, Json, JsonObject, RecordedEvent } from './corpus.ts';

export interface ReplayResult {
  readonly status: number;
  readonly body?: Json;
  readonly headers: { readonly warning?: string[]; readonly 'content-type'?: string };
  readonly events?: RecordedEvent[];
}

/** Bearer tokens the fake maps to users: `admin` (system:masters) and `alice` (RBAC only). */
export const userToken = (user: string | undefined): string => user ?? 'admin';

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Keeps what the server under test has answered: each object's latest state and its previous
 * resourceVersion (for `<stale-rv>`), names made from generateName, the first LIST's
 * resourceVersion (`<compacted-rv>`) and the latest one (`<rv>` in a path).
 */
export class ReplayState {
  readonly #byPath = new Map<string, JsonObject>();
  readonly #byRef = new Map<string, JsonObject>();
  readonly #previousRv = new Map<string, string>();
  readonly #generated = new Map<string, string>();
  #firstListRv: string | undefined;
  #latestListRv: string | undefined;

  /** Records what a response says about the objects it carries. */
  observe(requestPath: string, method: string, result: ReplayResult): void {
    const body = result.body;
    if (!isObject(body) || result.status >= 300) return;
    const path = stripQuery(requestPath).replace(/\/status$/, '');
    const kind = typeof body['kind'] === 'string' ? body['kind'] : '';
    if (kind.endsWith('List') && Array.isArray(body['items'])) {
      const rv = listRv(body);
      if (rv !== undefined) {
        this.#firstListRv ??= rv;
        this.#latestListRv = rv;
      }
      for (const item of body['items']) if (isObject(item)) this.#remember(collectionPath(path, false), kind.slice(0, -4), item);
      return;
    }
    if (kind === 'Status') return;
    const isCollection = method === 'POST';
    this.#remember(collectionPath(path, !isCollection), kind, body);
  }

  #remember(collection: string, kind: string, obj: JsonObject): void {
    const m = obj['metadata'];
    if (!isObject(m) || typeof m['name'] !== 'string') return;
    const name = m['name'];
    const ns = typeof m['namespace'] === 'string' ? m['namespace'] : undefined;
    const key = objectPath(collection, ns, name);
    const before = this.#byPath.get(key);
    const beforeRv = before !== undefined && isObject(before['metadata']) ? before['metadata']['resourceVersion'] : undefined;
    if (typeof beforeRv === 'string' && beforeRv !== m['resourceVersion']) this.#previousRv.set(key, beforeRv);
    this.#byPath.set(key, obj);
    this.#byRef.set(`${kind}/${ns ?? ''}/${name}`, obj);
    if (typeof m['generateName'] === 'string') this.#generated.set(m['generateName'], name);
  }

  /**
   * The request path with its placeholders filled. The recorder normalized every
   * resourceVersion, the `resourceVersion=0` of a watch included: where the exchange says it
   * asked for 0 (its description), 0 it is.
   */
  fillPath(path: string, description = ''): string {
    if (/resourceVersion=0\b/.test(description)) path = path.replace('resourceVersion=<rv>', 'resourceVersion=0');
    return path
      .replace(/([a-z0-9.-]*)<suffix>/g, (_, prefix: string) => this.#generated.get(prefix) ?? `${prefix}<suffix>`)
      .replaceAll('<compacted-rv>', this.#firstListRv ?? '<compacted-rv>')
      .replaceAll('<rv>', this.#latestListRv ?? '<rv>');
  }

  /** The request body with `<rv>`, `<uid>`, `<time>`, `<stale-rv>`, … taken from the server's own answers. */
  fillBody(requestPath: string, method: string, body: Json | undefined): Json | undefined {
    if (body === undefined || typeof body === 'string' || Array.isArray(body)) return body;
    if (!isObject(body)) return body;
    const path = stripQuery(this.fillPath(requestPath)).replace(/\/status$/, '');
    const m = isObject(body['metadata']) ? body['metadata'] : {};
    const name = typeof m['name'] === 'string' ? m['name'] : undefined;
    const key = method === 'POST' ? (name === undefined ? undefined : `${path}/${name}`) : path;
    const target = key === undefined ? undefined : this.#byPath.get(key);
    const namespace = /\/namespaces\/([^/]+)\//.exec(path)?.[1];
    return this.#fill(body, [], target, key, namespace);
  }

  #fill(value: Json, at: (string | number)[], target: JsonObject | undefined, key: string | undefined, namespace: string | undefined): Json {
    if (typeof value === 'string') {
      if (value === '<stale-rv>') return (key !== undefined ? this.#previousRv.get(key) : undefined) ?? value;
      if (/^<(rv|uid|time|clusterIP|nodePort)>$/.test(value)) {
        const found = target === undefined ? undefined : valueAt(target, at);
        return found ?? value;
      }
      return value;
    }
    if (Array.isArray(value)) return value.map((v, i) => this.#fill(v, [...at, i], target, key, namespace));
    if (!isObject(value)) return value;
    // A reference to another object (involvedObject, targetRef, ownerReferences[]): its
    // placeholders come from that object.
    if (at.length > 0 && typeof value['kind'] === 'string' && typeof value['name'] === 'string') {
      const ns = typeof value['namespace'] === 'string' ? value['namespace'] : namespace;
      const ref = this.#byRef.get(`${value['kind']}/${ns ?? ''}/${value['name']}`) ?? this.#byRef.get(`${value['kind']}//${value['name']}`);
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(value)) {
        if (typeof v === 'string' && (v === '<uid>' || v === '<rv>') && ref !== undefined && isObject(ref['metadata'])) {
          out[k] = ref['metadata'][k === 'uid' ? 'uid' : 'resourceVersion'] ?? v;
        } else out[k] = this.#fill(v, [...at, k], target, key, namespace);
      }
      return out;
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.#fill(v, [...at, k], target, key, namespace);
    return out;
  }
}

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/** `/api/v1/namespaces/default/services/x` → `/api/v1/namespaces/default/services`. */
function collectionPath(path: string, isObjectPath: boolean): string {
  return isObjectPath ? path.slice(0, path.lastIndexOf('/')) : path;
}

/** An object's path from its collection, inserting the namespace for an all-namespaces list. */
function objectPath(collection: string, ns: string | undefined, name: string): string {
  if (ns === undefined || collection.includes('/namespaces/')) return `${collection}/${name}`;
  const cut = collection.lastIndexOf('/');
  return `${collection.slice(0, cut)}/namespaces/${ns}${collection.slice(cut)}/${name}`;
}

function listRv(list: JsonObject): string | undefined {
  const m = list['metadata'];
  return isObject(m) && typeof m['resourceVersion'] === 'string' ? m['resourceVersion'] : undefined;
}

function valueAt(root: Json, at: readonly (string | number)[]): Json | undefined {
  let cur: Json | undefined = root;
  for (const step of at) {
    if (typeof step === 'number') cur = Array.isArray(cur) ? cur[step] : undefined;
    else cur = isObject(cur) ? cur[step] : undefined;
    if (cur === undefined) return undefined;
  }
  return typeof cur === 'number' ? cur : cur;
}

// ---------------------------------------------------------------------------------------------
// Normalization (README "Normalization"), applied to the server under test's answers.

const GENERATED = /^(.*[.-])[a-z0-9]{5}$/;

/** Normalizes an answer as the recordings were: uid, resourceVersion, times, cluster IPs, node ports, generated names. */
export function normalize(value: Json, generatedNames: ReadonlyMap<string, string> = new Map(), at = '', prefixes: readonly string[] = []): Json {
  if (typeof value === 'string') {
    let s = value;
    for (const [name, prefix] of generatedNames) s = s.replaceAll(name, `${prefix}<suffix>`);
    // A refused create names the generated name only in its message and details: the request's
    // generateName says which 5 characters are random.
    for (const prefix of prefixes) s = s.replace(new RegExp(`${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[a-z0-9]{5}(?![a-z0-9])`, 'g'), `${prefix}<suffix>`);
    return s;
  }
  if (Array.isArray(value)) return value.map((v) => normalize(v, generatedNames, at, prefixes));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'managedFields' && at === 'metadata') continue;
    if (k === 'uid' && typeof v === 'string') out[k] = '<uid>';
    else if (k === 'resourceVersion' && typeof v === 'string') out[k] = '<rv>';
    else if ((k === 'creationTimestamp' || k === 'deletionTimestamp') && typeof v === 'string') out[k] = '<time>';
    else if (k === 'clusterIP' && typeof v === 'string' && v !== 'None' && v !== '') out[k] = '<clusterIP>';
    else if (k === 'clusterIPs' && Array.isArray(v)) out[k] = v.map((ip) => (ip === 'None' ? ip : '<clusterIP>'));
    else if ((k === 'nodePort' || k === 'healthCheckNodePort') && typeof v === 'number') out[k] = '<nodePort>';
    else if (k === 'annotations' && isObject(v)) {
      const a: JsonObject = { ...v };
      if ('endpoints.kubernetes.io/last-change-trigger-time' in a) a['endpoints.kubernetes.io/last-change-trigger-time'] = '<time>';
      if ('kubectl.kubernetes.io/last-applied-configuration' in a) a['kubectl.kubernetes.io/last-applied-configuration'] = '<last-applied>';
      out[k] = a;
    } else out[k] = normalize(v, generatedNames, k, prefixes);
  }
  return out;
}

/** Names made from generateName in an answer (name → prefix), so they normalize everywhere. */
export function generatedNamesIn(value: Json, into = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) for (const v of value) generatedNamesIn(v, into);
  else if (isObject(value)) {
    const m = value['metadata'];
    if (isObject(m) && typeof m['generateName'] === 'string' && typeof m['name'] === 'string' && GENERATED.test(m['name'])) {
      into.set(m['name'], m['generateName']);
    }
    for (const v of Object.values(value)) generatedNamesIn(v, into);
  }
  return into;
}

// ---------------------------------------------------------------------------------------------
// Comparison (README "How a replay should compare").

/** The differences between a recorded answer and the server under test's (normalized) answer. */
export function compareExchange(exchange: Exchange, actual: ReplayResult): string[] {
  const expected = exchange.response;
  const diffs: string[] = [];
  if (actual.status !== expected.status) diffs.push(`status ${actual.status}, recorded ${expected.status}${describeBody(actual.body)}`);
  if (exchange.watch === true) {
    diffs.push(...compareWatch(expected.events ?? [], actual.events ?? []));
    return diffs;
  }
  if (expected.status >= 400) {
    diffs.push(...compareError(exchange, expected.body, actual.body));
    return diffs;
  }
  for (const path of exchange.compare ?? []) {
    if (path === 'status') continue;
    const want = select({ body: expected.body ?? null, headers: (expected.headers ?? {}) as Json }, path);
    const got = select({ body: actual.body ?? null, headers: actual.headers as Json }, path);
    if (!equalAt(path, want, got)) diffs.push(`${path}: got ${JSON.stringify(got)}, recorded ${JSON.stringify(want)}`);
  }
  return diffs;
}

function describeBody(body: Json | undefined): string {
  if (isObject(body) && typeof body['message'] === 'string') return ` (${body['message']})`;
  return '';
}

function compareError(exchange: Exchange, want: Json | undefined, got: Json | undefined): string[] {
  const diffs: string[] = [];
  const w = isObject(want) ? want : {};
  const g = isObject(got) ? got : {};
  for (const field of ['message', 'reason', 'code', 'details'] as const) {
    let a = g[field];
    let b = w[field];
    if (exchange.causesOrder !== undefined) {
      if (field === 'message') [a, b] = [sortBracketList(a), sortBracketList(b)];
      if (field === 'details') [a, b] = [sortCauses(a), sortCauses(b)];
    }
    if (exchange.messageNormalized === true && field === 'message' && typeof a === 'string' && typeof b === 'string') {
      [a, b] = [normalizeMessage(a), normalizeMessage(b)];
    }
    if (!isDeepStrictEqual(a ?? null, b ?? null)) diffs.push(`${field}: got ${JSON.stringify(a)}, recorded ${JSON.stringify(b)}`);
  }
  return diffs;
}

/** Numbers inside watch errors and objects embedded in PATCH errors vary run to run. */
function normalizeMessage(s: string): string {
  return s
    .replace(/too old resource version: \d+ \(\d+\)/g, 'too old resource version: <rv> (<rv>)')
    .replace(/"resourceVersion":"[^"]*"/g, '"resourceVersion":"<rv>"')
    .replace(/"uid":"[^"]*"/g, '"uid":"<uid>"')
    .replace(/"creationTimestamp":"[^"]*"/g, '"creationTimestamp":"<time>"');
}

function sortBracketList(v: Json | undefined): Json | undefined {
  if (typeof v !== 'string') return v;
  return v.replace(/\[(.*)\]/s, (_, inner: string) => `[${splitTopLevel(inner).sort().join(', ')}]`);
}

/** Splits `a, b, c` at commas not inside quotes or brackets. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"' && s[i - 1] !== '\\') quoted = !quoted;
    if (!quoted && (c === '[' || c === '{' || c === '(')) depth++;
    if (!quoted && (c === ']' || c === '}' || c === ')')) depth--;
    if (!quoted && depth === 0 && c === ',' && s[i + 1] === ' ') {
      out.push(cur);
      cur = '';
      i++;
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

function sortCauses(v: Json | undefined): Json | undefined {
  if (!isObject(v) || !Array.isArray(v['causes'])) return v;
  return { ...v, causes: [...v['causes']].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
}

function compareWatch(want: readonly RecordedEvent[], got: readonly RecordedEvent[]): string[] {
  const types = (es: readonly RecordedEvent[]): string[] => es.map((e) => e.type).filter((t) => t !== 'BOOKMARK');
  const diffs: string[] = [];
  if (!isDeepStrictEqual(types(got), types(want))) diffs.push(`event types ${JSON.stringify(types(got))}, recorded ${JSON.stringify(types(want))}`);
  if (want.some((e) => e.type === 'BOOKMARK') && !got.some((e) => e.type === 'BOOKMARK')) diffs.push('no BOOKMARK, recorded at least one');
  // The other compared paths (events[*].object.kind, .metadata.name), on the events besides BOOKMARKs.
  const objects = (es: readonly RecordedEvent[]): string[] =>
    es.filter((e) => e.type !== 'BOOKMARK').map((e) => JSON.stringify([e.object['kind'] ?? null, isObject(e.object['metadata']) ? (e.object['metadata']['name'] ?? null) : null]));
  if (!isDeepStrictEqual(objects(got), objects(want))) diffs.push(`event objects ${JSON.stringify(objects(got))}, recorded ${JSON.stringify(objects(want))}`);
  // ERROR events carry a Status: compare it as an error answer.
  const wantErrors = want.filter((e) => e.type === 'ERROR');
  const gotErrors = got.filter((e) => e.type === 'ERROR');
  wantErrors.forEach((w, i) => {
    const g = gotErrors[i];
    if (g === undefined) return;
    const wm = normalizeMessage(JSON.stringify(w.object['message'] ?? ''));
    const gm = normalizeMessage(JSON.stringify(g.object['message'] ?? ''));
    for (const f of ['reason', 'code'] as const) {
      if (!isDeepStrictEqual(g.object[f], w.object[f])) diffs.push(`ERROR event ${f}: got ${JSON.stringify(g.object[f])}, recorded ${JSON.stringify(w.object[f])}`);
    }
    if (wm !== gm) diffs.push(`ERROR event message: got ${JSON.stringify(gm)}, recorded ${JSON.stringify(wm)}`);
  });
  return diffs;
}

/** Selects `body.items[*].metadata.name`-style paths; `[*]` maps over a list. */
export function select(root: Json, path: string): Json | undefined {
  const steps = path.split('.').flatMap((s) => (s.endsWith('[*]') ? [s.slice(0, -3), '[*]'] : [s]));
  const walk = (cur: Json | undefined, i: number): Json | undefined => {
    if (i === steps.length || cur === undefined) return cur;
    const step = steps[i]!;
    if (step === '[*]') return Array.isArray(cur) ? cur.map((v) => walk(v, i + 1) ?? null) : undefined;
    return isObject(cur) ? walk(cur[step], i + 1) : undefined;
  };
  return walk(root, 0);
}

/** Deep equality, except EndpointSlice endpoints: a set keyed by targetRef.name (null ≠ []). */
function equalAt(path: string, want: Json | undefined, got: Json | undefined): boolean {
  const keyed = (eps: Json | undefined): Json | undefined => {
    if (!Array.isArray(eps)) return eps;
    return [...eps].sort((a, b) => (endpointKey(a) < endpointKey(b) ? -1 : 1));
  };
  if (/(^|\.)endpoints$/.test(path)) return isDeepStrictEqual(keyed(got) ?? null, keyed(want) ?? null);
  if (path.endsWith('[*].endpoints') && Array.isArray(want) && Array.isArray(got)) {
    return want.length === got.length && want.every((w, i) => isDeepStrictEqual(keyed(got[i]) ?? null, keyed(w) ?? null));
  }
  if (/items$/.test(path) && Array.isArray(want) && Array.isArray(got)) {
    // Slices inside a list: compare each slice's endpoints as a set.
    const sortItem = (v: Json): Json => (isObject(v) && Array.isArray(v['endpoints']) ? { ...v, endpoints: keyed(v['endpoints']) ?? null } : v);
    return isDeepStrictEqual(got.map(sortItem), want.map(sortItem));
  }
  return isDeepStrictEqual(got ?? null, want ?? null);
}

function endpointKey(e: Json): string {
  if (!isObject(e)) return JSON.stringify(e);
  const ref = e['targetRef'];
  return isObject(ref) && typeof ref['name'] === 'string' ? ref['name'] : JSON.stringify(e);
}
