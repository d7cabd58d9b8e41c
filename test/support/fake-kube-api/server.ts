import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { admission } from './admission.ts';
import { Catalog } from './catalog.ts';
import { EndpointSliceController } from './endpointslice-controller.ts';
import { ApiError, badRequest, notFound, statusBody } from './errors.ts';
import { parseFieldSelector, matchesFields } from './fields.ts';
import { isObject, meta, nameOf, type Json, type JsonObject } from './json.ts';
import { establishedStatus } from './kinds/cluster.ts';
import { nowTime } from './gotime.ts';
import { applyPatch, goJsonError } from './patch-request.ts';
import { authenticate, authorize, type UserInfo } from './rbac.ts';
import { apiVersionOf, type ResourceType } from './resource-type.ts';
import { matches, parseSelector, SelectorError } from './selector.ts';
import { Store, type FieldValidation } from './store.ts';
import { parseResourceVersion, Watches } from './watch.ts';

interface Route {
  readonly r: ResourceType;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: 'status' | undefined;
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

const notServed = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource', { causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }] as unknown as JsonObject[] });

/** The server's key and certificate (PEM); clients trust the certificate itself as their CA. */
export interface FakeKubeApiTls {
  readonly key: string;
  readonly cert: string;
}

/**
 * A Kubernetes API server for tests, over real HTTP, so the real `@kubernetes/client-node`
 * clients and informers run unmodified against it. It reproduces the recorded behaviour of a
 * real kube-apiserver v1.32 (../../../shared/kube-conformance/, replayed by
 * test/kube-conformance.test.ts): defaults, validation messages, RBAC, admission, watch-cache
 * semantics, custom resources served from applied CRDs, and the endpointslice controller. Hooks
 * break it the ways a real one breaks: dropped watches, compaction, restarts, latency, errors.
 */
export class FakeKubeApi {
  readonly store = new Store();
  readonly catalog = new Catalog();
  readonly requests: RequestRecord[] = [];
  readonly failures: InjectedFailure[] = [];
  latencyMs = 0;
  readonly #watches = new Watches(this.store);
  readonly #answers: (() => void)[] = [];
  readonly #server: Server | TlsServer;
  readonly #tls: FakeKubeApiTls | undefined;
  #paramKindBlindUntil = 0;
  #url = '';

  /** With `tls`, HTTPS as every real API server speaks it (what in-cluster clients require). */
  constructor(options: { tls?: FakeKubeApiTls } = {}) {
    this.#tls = options.tls;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.#send(res, 500, statusBody(500, 'InternalError', String(error)));
      });
    };
    this.#server = options.tls === undefined ? createServer(handler) : createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handler);
    this.store.onChange((r, e) => {
      if (r.storage === 'apiextensions.k8s.io/customresourcedefinitions') this.catalog.setCrds(this.store.items(r, undefined));
      this.#watches.deliver(r, e);
    });
    new EndpointSliceController(this.store, {
      services: this.resource('services'), pods: this.resource('pods'), slices: this.resource('endpointslices'), nodes: this.resource('nodes'),
    });
    this.#bootstrap();
  }

  /** What a fresh cluster has: the system namespaces and the apiserver's own `default/kubernetes` Service. */
  #bootstrap(): void {
    const namespaces = this.resource('namespaces');
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) this.store.create(namespaces, undefined, { metadata: { name } });
    this.store.create(this.resource('services'), 'default', {
      metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: 6443 }] },
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

  /** Applies CustomResourceDefinitions (as `kubectl apply` would), so their kinds are served. */
  applyCrds(crds: readonly JsonObject[]): void {
    const r = this.resource('customresourcedefinitions');
    for (const crd of crds) {
      const name = nameOf(crd);
      const existing = this.store.peek(r, undefined, name);
      if (existing === undefined) this.store.create(r, undefined, crd);
      else this.store.update(r, undefined, name, { ...crd, metadata: { ...meta(crd), resourceVersion: meta(existing)['resourceVersion'] ?? null } }, undefined);
      this.#establish(name);
    }
  }

  /** The establishing controller: accepted names and the Established condition. */
  #establish(name: string): void {
    const r = this.resource('customresourcedefinitions');
    const crd = this.store.peek(r, undefined, name);
    if (crd === undefined) return;
    this.store.update(r, undefined, name, { ...crd, status: establishedStatus(crd, nowTime()) }, 'status');
  }

  /** Tears every open watch connection down mid-stream, as a proxy or apiserver restart does. */
  dropWatches(): void {
    this.#watches.drop();
  }

  /** An etcd compaction: LISTs at an exact older resourceVersion get 410; the watch cache still serves watches. */
  compact(): void {
    this.store.compact();
  }

  /**
   * An apiserver restart: open watches are dropped and the watch cache starts over at the current
   * resourceVersion (a watch from before gets 200 + ERROR 410). With `paramKindBlindForMs`,
   * custom kinds look not-served to admission for that long (the recorded post-restart window).
   */
  restart(options: { paramKindBlindForMs?: number } = {}): void {
    this.dropWatches();
    this.store.restartCache();
    this.#paramKindBlindUntil = options.paramKindBlindForMs === undefined ? 0 : Date.now() + options.paramKindBlindForMs;
  }

  /** History gone: open watches get an ERROR 410 and end; resuming from any old version is 410. */
  expireHistory(): void {
    this.store.compact();
    this.store.restartCache();
    this.#watches.expire();
  }

  /** Sends a BOOKMARK at the current resourceVersion to watches that asked for bookmarks. */
  bookmark(): void {
    this.#watches.bookmark();
  }

  get openWatches(): number {
    return this.#watches.size;
  }

  /** Finds a served kind by plural (and group when plurals repeat, as events do). */
  resource(plural: string, group?: string): ResourceType {
    const r = this.catalog.byPlural(plural, group);
    if (r === undefined) throw new Error(`fake API serves no ${plural}${group === undefined ? '' : `.${group}`} (custom kinds need their CRD applied)`);
    return r;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const q = url.searchParams;
    const watch = q.get('watch') === 'true' || q.get('watch') === '1';
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, watch });
    const body = await readBody(req);
    if (this.latencyMs > 0 && !watch) await new Promise((r) => setTimeout(r, this.latencyMs));
    const failure = this.failures.find((f) => f.count > 0 && (f.method === undefined || f.method === method) && (f.path === undefined || url.pathname.includes(f.path)));
    if (failure !== undefined) {
      failure.count--;
      this.#send(res, failure.status, statusBody(failure.status, 'InternalError', 'injected failure'));
      return;
    }
    const warnings: string[] = [];
    try {
      const route = this.#route(url.pathname);
      const user = authenticate(req.headers.authorization);
      authorize(user, {
        verb: verbOf(method, route, watch), group: route.r.group, resource: route.r.plural, subresource: route.subresource,
        namespace: route.namespace, name: route.name,
      }, this.#rbac());
      if (watch) {
        this.#watches.open({
          r: route.r, namespace: route.namespace, labels: parseSelector(q.get('labelSelector') ?? ''), fields: parseFieldSelector(q.get('fieldSelector') ?? ''),
          resourceVersion: q.get('resourceVersion') ?? '', bookmarks: q.get('allowWatchBookmarks') === 'true', sendInitialEvents: q.get('sendInitialEvents') === 'true',
          timeoutSeconds: q.get('timeoutSeconds') === null ? undefined : Number(q.get('timeoutSeconds')),
        }, res);
        return;
      }
      const [code, answer] = this.#serve(method, route, q, body, req.headers['content-type'] ?? '', user, warnings);
      this.#send(res, code, answer, warnings);
    } catch (error) {
      // VIPGATE_FAKE_KUBE_LOG=1: refusals on stderr, for finding why a client's write failed.
      if (error instanceof Error && process.env['VIPGATE_FAKE_KUBE_LOG'] === '1') process.stderr.write(`fake-kube-api: ${method} ${url.pathname}: ${error.message}\n`);
      if (error instanceof ApiError) this.#send(res, error.code, error.status, warnings);
      else if (error instanceof SelectorError) this.#send(res, 400, statusBody(400, 'BadRequest', error.message));
      else throw error;
    }
  }

  #rbac(): Parameters<typeof authorize>[2] {
    const rbac = (plural: string): ResourceType => this.resource(plural, 'rbac.authorization.k8s.io');
    return {
      clusterRoles: () => this.store.items(rbac('clusterroles'), undefined),
      clusterRoleBindings: () => this.store.items(rbac('clusterrolebindings'), undefined),
      roles: (ns) => this.store.items(rbac('roles'), ns),
      roleBindings: (ns) => this.store.items(rbac('rolebindings'), ns),
    };
  }

  #route(path: string): Route {
    const parts = path.split('/').filter((p) => p !== '');
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) [group, version, rest] = ['', parts[1]!, parts.slice(2)];
    else if (parts[0] === 'apis' && parts.length >= 3) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
    else throw notServed();
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub, ...extra] = rest;
    const r = this.catalog.find(group, version, plural ?? '');
    if (r === undefined || extra.length > 0 || (!r.namespaced && namespace !== undefined)) throw notServed();
    // A subresource the kind does not have: the real server says the object is not found.
    if (sub !== undefined && !(sub === 'status' && r.hasStatus)) throw notFound(r, name ?? '');
    return { r, namespace, name, subresource: sub === 'status' ? 'status' : undefined };
  }

  #serve(method: string, route: Route, q: URLSearchParams, body: string, contentType: string, user: UserInfo, warnings: string[]): [number, JsonObject] {
    const { r, namespace, name, subresource } = route;
    const dryRun = q.get('dryRun') === 'All';
    const fieldValidation = (q.get('fieldValidation') ?? 'Warn') as FieldValidation;
    const admit = (n: string): ReturnType<typeof admission> => admission({ store: this.store, catalog: this.catalog, paramKindBlindUntil: this.#paramKindBlindUntil }, r, user, namespace, n, dryRun);
    if (name === undefined) {
      if (method === 'GET') return [200, this.#list(r, namespace, q)];
      if (method === 'POST') {
        if (r.namespaced && namespace === undefined) throw notServed();
        const obj = parseObject(r, body);
        this.#namespaceExists(namespace);
        const created = this.store.create(r, namespace, obj, { fieldValidation, dryRun, warnings, admit: admit(nameOf(obj)) });
        this.#afterWrite(r, created);
        return [201, created];
      }
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    switch (method) {
      case 'GET':
        return [200, this.store.get(r, namespace, name)];
      case 'PUT': {
        const existed = this.store.peek(r, namespace, name) !== undefined;
        const updated = this.store.update(r, namespace, name, parseObject(r, body), subresource, { fieldValidation, dryRun, warnings, put: true, admit: admit(name) });
        this.#afterWrite(r, updated);
        return [existed ? 200 : 201, updated];
      }
      case 'PATCH': {
        const applying = contentType.startsWith('application/apply-patch');
        if (applying && subresource === undefined && this.store.peek(r, namespace, name) === undefined && q.get('fieldManager')) {
          // Server-side apply of an object that does not exist yet creates it.
          const obj = applyPatch({}, body, contentType, { fieldManager: q.get('fieldManager') ?? undefined, custom: r.crd !== undefined });
          this.#namespaceExists(namespace);
          return [201, this.store.create(r, namespace, obj, { fieldValidation, dryRun, warnings, patch: true, admit: admit(name) })];
        }
        const stored = this.store.peek(r, namespace, name);
        if (stored === undefined) throw notFound(r, name);
        // Read, not copied: every patch type builds a new object.
        const patched = applyPatch(this.store.wire(r, stored), body, contentType, { fieldManager: q.get('fieldManager') ?? undefined, custom: r.crd !== undefined });
        const updated = this.store.update(r, namespace, name, patched, subresource, { fieldValidation, dryRun, warnings, patch: true, admit: admit(name) });
        this.#afterWrite(r, updated);
        return [200, updated];
      }
      case 'DELETE': {
        const options = body.trim() === '' ? {} : parseObject(r, body);
        const grace = q.get('gracePeriodSeconds') ?? (typeof options['gracePeriodSeconds'] === 'number' ? String(options['gracePeriodSeconds']) : null);
        const deleted = this.store.delete(r, namespace, name, { ...(grace === null ? {} : { gracePeriodSeconds: Number(grace) }), dryRun, admit: admit(name) });
        this.#afterWrite(r, deleted);
        if (r.deleteReturnsObject) return [200, deleted];
        const m = meta(deleted);
        return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, ...(r.group === '' ? {} : { group: r.group }), kind: r.plural, uid: m['uid'] ?? '' } }];
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  /** Controllers that follow a write over HTTP: CRD establishing, admission policy status. */
  #afterWrite(r: ResourceType, obj: JsonObject): void {
    if (r.storage === 'apiextensions.k8s.io/customresourcedefinitions') setImmediate(() => this.#establish(nameOf(obj)));
    if (r.storage === 'admissionregistration.k8s.io/validatingadmissionpolicies') setImmediate(() => this.#policyStatus(nameOf(obj)));
  }

  /**
   * kube-controller-manager's validatingadmissionpolicy-status controller: the generation it has
   * type-checked. Simplified: the type check finds nothing to warn about (`typeChecking: {}`).
   */
  #policyStatus(name: string): void {
    const r = this.resource('validatingadmissionpolicies', 'admissionregistration.k8s.io');
    const policy = this.store.peek(r, undefined, name);
    if (policy === undefined) return;
    const generation = meta(policy)['generation'] ?? 1;
    const status = isObject(policy['status']) ? policy['status'] : {};
    if (status['observedGeneration'] === generation) return;
    this.store.update(r, undefined, name, { ...policy, status: { ...status, observedGeneration: generation, typeChecking: {} } }, 'status');
  }

  /** NamespaceLifecycle admission: nothing is created in a namespace that does not exist. */
  #namespaceExists(namespace: string | undefined): void {
    if (namespace === undefined) return;
    if (this.store.peek(this.resource('namespaces'), undefined, namespace) === undefined) throw notFound(this.resource('namespaces'), namespace);
  }

  #list(r: ResourceType, namespace: string | undefined, q: URLSearchParams): JsonObject {
    const rv = q.get('resourceVersion');
    if (rv !== null && rv !== '') {
      const n = parseResourceVersion(rv);
      if (q.get('resourceVersionMatch') === 'Exact' && n < this.store.compactedRv) throw new ApiError(410, 'Expired', 'The resourceVersion for the provided list is too old.');
    }
    const labels = parseSelector(q.get('labelSelector') ?? '');
    const fields = parseFieldSelector(q.get('fieldSelector') ?? '');
    const items = this.store.items(r, namespace).filter((o) => matches(labels, labelsOf(o)) && matchesFields(fields, o)).map((o) => {
      const wire = this.store.wire(r, o);
      if (r.crd !== undefined) return wire;
      // Built-in lists carry apiVersion and kind once, on the list.
      const { apiVersion: _a, kind: _k, ...rest } = wire;
      return rest;
    });
    return { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(this.store.rv) }, items };
  }

  #send(res: ServerResponse, code: number, body: JsonObject, warnings: readonly string[] = []): void {
    const text = JSON.stringify(body);
    // Answers of one turn of the event loop go out together at its end: each lone write could
    // find the client idle and have to wake it (~0.1 ms of this process's time on the 2-core
    // benchmark VM), and the fake shares those cores with the client it serves.
    if (this.#answers.length === 0) setImmediate(() => this.#answerAll());
    this.#answers.push(() => {
      if (res.headersSent || res.destroyed) return; // answered already, or the client is gone
      const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
      if (warnings.length > 0) headers['warning'] = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
      res.writeHead(code, headers);
      res.end(text);
    });
  }

  #answerAll(): void {
    for (const answer of this.#answers.splice(0)) answer();
  }
}

function verbOf(method: string, route: Route, watch: boolean): string {
  if (watch) return 'watch';
  switch (method) {
    case 'GET':
      return route.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name === undefined ? 'deletecollection' : 'delete';
    default:
      return method.toLowerCase();
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseObject(r: ResourceType, body: string): JsonObject {
  let obj: Json;
  try {
    obj = JSON.parse(body) as Json;
  } catch (error) {
    throw badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${goJsonError(body, error)}`);
  }
  if (!isObject(obj)) throw badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: json: cannot unmarshal ${Array.isArray(obj) ? 'array' : typeof obj} into Go value of type struct`);
  return obj;
}
