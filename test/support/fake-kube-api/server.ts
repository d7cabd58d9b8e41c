import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isObject, meta, type Json, type JsonObject } from './json.ts';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from './patch.ts';
import { apiVersionOf, RESOURCE_TYPES, type ResourceType } from './resources.ts';
import { matches, parseSelector, SelectorError, type Requirement } from './selector.ts';
import { ApiError, Store, type StoredEvent } from './store.ts';

interface Route {
  readonly r: ResourceType;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: 'status' | undefined;
}

interface Watcher {
  readonly r: ResourceType;
  readonly namespace: string | undefined;
  readonly selector: readonly Requirement[];
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
}

/** A failure to inject: the next `count` requests matching method and path get `status`. */
export interface InjectedFailure {
  readonly method?: string;
  /** Substring of the request path (`/services`, `/status`). */
  readonly path?: string;
  readonly status: number;
  count: number;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly watch: boolean;
}

function labelsOf(obj: JsonObject): Record<string, string> {
  const labels = meta(obj)['labels'];
  return isObject(labels) ? (labels as Record<string, string>) : {};
}

function status(code: number, reason: string, message: string): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** The server's key and certificate (PEM); clients trust the certificate itself as their CA. */
export interface FakeKubeApiTls {
  readonly key: string;
  readonly cert: string;
}

/**
 * A Kubernetes API server for tests, over real HTTP, so the real `@kubernetes/client-node`
 * clients and informers run unmodified against it. Strict where a real server is strict
 * (unknown fields, types, names, conflicts, status only through /status) and with hooks to
 * break it the ways a real one breaks: dropped watches, expired history (410), latency, errors.
 */
export class FakeKubeApi {
  readonly store = new Store();
  readonly requests: RequestRecord[] = [];
  readonly failures: InjectedFailure[] = [];
  latencyMs = 0;
  readonly #watchers = new Set<Watcher>();
  readonly #corked = new Set<ServerResponse>();
  readonly #answers: (() => void)[] = [];
  readonly #server: Server | TlsServer;
  readonly #tls: FakeKubeApiTls | undefined;
  #url = '';

  /** With `tls`, HTTPS as every real API server speaks it (what in-cluster clients require). */
  constructor(options: { tls?: FakeKubeApiTls } = {}) {
    this.#tls = options.tls;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.#send(res, 500, status(500, 'InternalError', String(error)));
      });
    };
    this.#server = options.tls === undefined ? createServer(handler) : createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handler);
    this.store.onChange((r, e) => {
      for (const w of this.#watchers) if (w.r === r) this.#deliver(w, e);
    });
  }

  /** Listens on 127.0.0.1 (port 0: any free port). */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(port, host, resolve));
    const a = this.#server.address() as AddressInfo;
    this.#url = `${this.#tls === undefined ? 'http' : 'https'}://${host}:${a.port}`;
    return this.#url;
  }

  async stop(): Promise<void> {
    this.dropWatches();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  get url(): string {
    return this.#url;
  }

  /** A kubeconfig (YAML is a JSON superset) pointing at this server. */
  kubeconfig(): string {
    return JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
      // The client refuses plain HTTP unless TLS verification is explicitly skipped.
      clusters: [{ name: 'fake', cluster: this.#tls === undefined ? { server: this.#url, 'insecure-skip-tls-verify': true } : { server: this.#url, 'certificate-authority-data': Buffer.from(this.#tls.cert).toString('base64') } }],
      users: [{ name: 'tester', user: { token: 'fake-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester' } }],
    });
  }

  /** Tears every open watch connection down mid-stream, as a proxy or apiserver restart does. */
  dropWatches(): void {
    for (const w of this.#watchers) w.res.destroy();
    this.#watchers.clear();
  }

  /** Compacts history: open watches get an ERROR 410 and end; resuming from any old version is 410. */
  expireHistory(): void {
    this.store.compact();
    for (const w of this.#watchers) {
      this.#line(w.res, { type: 'ERROR', object: status(410, 'Expired', 'too old resource version') });
      w.res.end();
    }
    this.#watchers.clear();
  }

  /** Sends a BOOKMARK at the current resourceVersion to watches that asked for bookmarks. */
  bookmark(): void {
    for (const w of this.#watchers) {
      if (w.bookmarks) this.#line(w.res, { type: 'BOOKMARK', object: { kind: w.r.kind, apiVersion: apiVersionOf(w.r), metadata: { resourceVersion: String(this.store.rv) } } });
    }
  }

  get openWatches(): number {
    return this.#watchers.size;
  }

  /** Finds a resource type by plural (and group when plurals repeat, as events do). */
  resource(plural: string, group?: string): ResourceType {
    const r = RESOURCE_TYPES.find((t) => t.plural === plural && (group === undefined || t.group === group));
    if (r === undefined) throw new Error(`fake API serves no ${plural}`);
    return r;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, watch });
    const body = await readBody(req);
    if (this.latencyMs > 0 && !watch) await new Promise((r) => setTimeout(r, this.latencyMs));
    const failure = this.failures.find((f) => f.count > 0 && (f.method === undefined || f.method === method) && (f.path === undefined || url.pathname.includes(f.path)));
    if (failure !== undefined) {
      failure.count--;
      this.#send(res, failure.status, status(failure.status, 'InternalError', 'injected failure'));
      return;
    }
    try {
      const route = this.#route(url.pathname);
      if (watch) {
        this.#watch(route, url, res);
        return;
      }
      this.#send(res, ...this.#serve(method, route, url, body, req.headers['content-type'] ?? ''));
    } catch (error) {
      if (error instanceof ApiError) this.#send(res, error.code, status(error.code, error.reason, error.message));
      else if (error instanceof PatchError) this.#send(res, error.status, status(error.status, error.status === 415 ? 'UnsupportedMediaType' : 'Invalid', error.message));
      else if (error instanceof SelectorError) this.#send(res, 400, status(400, 'BadRequest', error.message));
      else throw error;
    }
  }

  #route(path: string): Route {
    const parts = path.split('/').filter((p) => p !== '');
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) [group, version, rest] = ['', parts[1]!, parts.slice(2)];
    else if (parts[0] === 'apis' && parts.length >= 3) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
    else throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub, ...extra] = rest;
    const r = RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural);
    if (r === undefined || extra.length > 0) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    if (!r.namespaced && namespace !== undefined) throw new ApiError(404, 'NotFound', `${plural} is cluster-scoped`);
    if (sub !== undefined && !(sub === 'status' && r.hasStatus)) throw new ApiError(404, 'NotFound', `${plural} has no subresource ${sub}`);
    return { r, namespace, name, subresource: sub === 'status' ? 'status' : undefined };
  }

  #serve(method: string, route: Route, url: URL, body: string, contentType: string): [number, JsonObject] {
    const { r, namespace, name, subresource } = route;
    if (r.namespaced && namespace === undefined && method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', `${r.plural} needs a namespace`);
    if (name === undefined) {
      if (method === 'GET') {
        const selector = parseSelector(url.searchParams.get('labelSelector') ?? '');
        const items = this.store.list(r, namespace).filter((o) => matches(selector, labelsOf(o)));
        for (const item of items) {
          delete item['apiVersion'];
          delete item['kind'];
        }
        return [200, { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(this.store.rv) }, items }];
      }
      if (method === 'POST') return [201, this.store.create(r, namespace, parseObject(body))];
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    }
    switch (method) {
      case 'GET':
        return [200, this.store.get(r, namespace, name)];
      case 'PUT':
        return [200, this.store.update(r, namespace, name, parseObject(body), subresource)];
      case 'PATCH': {
        const current = this.store.get(r, namespace, name);
        const patch = parseJson(body);
        const type = contentType.split(';')[0]!.trim();
        let patched: Json;
        if (type === 'application/merge-patch+json') patched = mergePatch(current, patch);
        else if (type === 'application/strategic-merge-patch+json') patched = strategicMergePatch(current, patch);
        else if (type === 'application/json-patch+json') patched = jsonPatch(current, patch);
        else throw new PatchError(415, `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got "${type}")`);
        if (!isObject(patched)) throw new PatchError(422, 'the patch did not produce an object');
        // The patch was computed against what we just read: only a resourceVersion the patch
        // itself set can conflict.
        if (!(isObject(patch) && isObject(patch['metadata']) && patch['metadata']['resourceVersion'] !== undefined)) delete meta(patched)['resourceVersion'];
        return [200, this.store.update(r, namespace, name, patched, subresource)];
      }
      case 'DELETE':
        return [200, this.store.delete(r, namespace, name)];
      default:
        throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed`);
    }
  }

  #watch(route: Route, url: URL, res: ServerResponse): void {
    const selector = parseSelector(url.searchParams.get('labelSelector') ?? '');
    const from = url.searchParams.get('resourceVersion') ?? '';
    const w: Watcher = { r: route.r, namespace: route.namespace, selector, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true', res };
    let backlog: StoredEvent[];
    if (from === '' || from === '0') {
      // "Any version": start with the current state as ADDED events, as a real server does.
      backlog = this.store.list(route.r, route.namespace).map((object) => ({ rv: 0, type: 'ADDED' as const, object, previous: undefined }));
    } else {
      const rv = Number(from);
      if (!Number.isInteger(rv)) throw new ApiError(400, 'BadRequest', `resourceVersion "${from}" is not a valid resource version`);
      try {
        backlog = this.store.since(route.r, rv);
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== 410) throw error;
        // A real server answers 200 and puts the 410 in the stream.
        res.writeHead(200, { 'content-type': 'application/json' });
        this.#line(res, { type: 'ERROR', object: status(410, 'Expired', error.message) });
        res.end();
        return;
      }
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    this.#watchers.add(w);
    res.on('close', () => this.#watchers.delete(w));
    for (const e of backlog) this.#deliver(w, e);
  }

  #deliver(w: Watcher, e: StoredEvent): void {
    const ns = meta(e.object)['namespace'];
    if (w.namespace !== undefined && ns !== w.namespace) return;
    const now = matches(w.selector, labelsOf(e.object));
    const before = e.previous !== undefined && matches(w.selector, labelsOf(e.previous));
    let type: string = e.type;
    if (e.type === 'MODIFIED' && now && !before) type = 'ADDED';
    else if (e.type === 'MODIFIED' && !now && before) type = 'DELETED';
    else if (e.type === 'DELETED' ? !before : !now) return;
    this.#line(w.res, { type, object: e.object });
  }

  #line(res: ServerResponse, event: JsonObject): void {
    if (res.destroyed) return;
    // Events of one turn of the event loop leave in one write per watch, as a real server's
    // buffered stream does: one syscall per event cost the benchmark's server ~0.2 s in writev.
    if (!this.#corked.has(res)) {
      res.cork();
      this.#corked.add(res);
      if (this.#corked.size === 1) setImmediate(() => this.#uncorkAll());
    }
    res.write(`${JSON.stringify(event)}\n`);
  }

  #uncorkAll(): void {
    // end() and destroy() flush or discard on their own; uncork on an ended response is a no-op.
    for (const res of this.#corked) res.uncork();
    this.#corked.clear();
  }

  #send(res: ServerResponse, code: number, body: JsonObject): void {
    const text = JSON.stringify(body);
    // Answers of one turn of the event loop go out together at its end: each lone write could
    // find the client idle and have to wake it (~0.1 ms of this process's time on the 2-core
    // benchmark VM), and the fake shares those cores with the client it serves.
    if (this.#answers.length === 0) setImmediate(() => this.#answerAll());
    this.#answers.push(() => {
      if (res.headersSent || res.destroyed) return; // answered already, or the client is gone
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(text);
    });
  }

  #answerAll(): void {
    for (const answer of this.#answers.splice(0)) answer();
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(body: string): Json {
  try {
    return JSON.parse(body) as Json;
  } catch {
    throw new ApiError(400, 'BadRequest', `the request body is not valid JSON: ${body.slice(0, 80)}`);
  }
}

function parseObject(body: string): JsonObject {
  const obj = parseJson(body);
  if (!isObject(obj)) throw new ApiError(400, 'BadRequest', 'the request body must be a JSON object');
  return obj;
}
