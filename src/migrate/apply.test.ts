// `migrate external-ips --apply` against an in-memory API with resourceVersion preconditions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyExternalIPsMigration, formatApplyOutcome, formatApplySummary, type ApiService, type MigrationApi } from './apply.ts';
import { migrateFlagsProblem, runMigrateApply } from './cli.ts';
import { mergePatch } from './testdata/merge-patch.ts';

type Json = Record<string, unknown>;

class HttpError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** Services by `ns/name`, a resourceVersion counter, and hooks to break things on purpose. */
class MemoryApi implements MigrationApi {
  rv = 10;
  readonly services = new Map<string, Json>();
  readonly patches: string[] = [];
  /** Before the patch of this key is applied: change the Service (a concurrent writer). */
  readonly interfere = new Map<string, (svc: Json) => Json | undefined>();
  /** Patches of these keys fail with this status. */
  readonly refuse = new Map<string, number>();

  add(name: string, spec: Json, namespace = 'default', annotations: Record<string, string> = {}): void {
    this.services.set(`${namespace}/${name}`, { metadata: { name, namespace, annotations, resourceVersion: String(++this.rv) }, spec });
  }
  get(key: string): Json {
    const svc = this.services.get(key);
    if (svc === undefined) throw new HttpError(404, `services "${key}" not found`);
    return structuredClone(svc);
  }
  listServices(): Promise<ApiService[]> {
    return Promise.resolve([...this.services.keys()].map((k) => this.get(k) as ApiService));
  }
  readService(namespace: string, name: string): Promise<ApiService> {
    return Promise.resolve(this.get(`${namespace}/${name}`) as ApiService);
  }
  patchService(namespace: string, name: string, patch: object): Promise<unknown> {
    const key = `${namespace}/${name}`;
    this.patches.push(key);
    const refused = this.refuse.get(key);
    if (refused !== undefined) return Promise.reject(new HttpError(refused, `injected ${refused}`));
    const meddle = this.interfere.get(key);
    if (meddle !== undefined) {
      this.interfere.delete(key);
      const changed = meddle(this.get(key));
      if (changed === undefined) this.services.delete(key);
      else this.services.set(key, { ...changed, metadata: { ...(changed['metadata'] as Json), resourceVersion: String(++this.rv) } });
    }
    const current = this.get(key);
    const sent = ((patch as Json)['metadata'] as Json | undefined)?.['resourceVersion'];
    if (sent !== undefined && sent !== (current['metadata'] as Json)['resourceVersion']) return Promise.reject(new HttpError(409, 'the object has been modified'));
    const next = mergePatch(current, patch) as Json;
    this.services.set(key, { ...next, metadata: { ...(next['metadata'] as Json), resourceVersion: String(++this.rv) } });
    return Promise.resolve(next);
  }
}

const spec = (key: string, api: MemoryApi): Json => api.get(key)['spec'] as Json;
const annotations = (key: string, api: MemoryApi): Json => (api.get(key)['metadata'] as Json)['annotations'] as Json;

test('each ClusterIP+externalIPs Service becomes a LoadBalancer requesting its address; a second run changes nothing and says so', async () => {
  const api = new MemoryApi();
  api.add('nginx', { type: 'ClusterIP', externalIPs: ['10.200.0.5'], ipFamilies: ['IPv4'] }, 'default', { team: 'web' });
  api.add('legacy', { type: 'ClusterIP', externalIPs: ['10.200.0.20', '10.200.0.21'] }, 'shop');
  api.add('plain', { type: 'ClusterIP' });
  const out: string[] = [];
  assert.equal(await runMigrateApply(api, {}, (t) => out.push(t)), 0);
  assert.deepEqual(spec('default/nginx', api), { type: 'LoadBalancer', ipFamilies: ['IPv4'], allocateLoadBalancerNodePorts: false });
  assert.deepEqual(annotations('default/nginx', api), { team: 'web', 'vipgate.io/ips': '10.200.0.5' }, 'other annotations are kept');
  assert.deepEqual(spec('shop/legacy', api)['externalIPs'], ['10.200.0.20', '10.200.0.21'], 'a skipped Service is left alone');
  assert.deepEqual(api.patches, ['default/nginx']);
  const text = out.join('');
  assert.match(text, /^migrated default\/nginx: ClusterIP with externalIPs 10\.200\.0\.5 -> type: LoadBalancer requesting 10\.200\.0\.5\n {2}allocateLoadBalancerNodePorts: false/m);
  assert.match(text, /^skipped shop\/legacy: externalIPs holds 2 IPv4 addresses/m);
  assert.match(text, /^ {2}no loadBalancerClass: served only where vipgate is the default load balancer; else add --load-balancer-class vipgate\.io\/lb$/m);
  assert.match(text, /1 migrated, 1 skipped, 0 unchanged, 0 failed\.\n$/);

  const again: string[] = [];
  assert.equal(await runMigrateApply(api, {}, (t) => again.push(t)), 0);
  assert.deepEqual(api.patches, ['default/nginx'], 'the second run sends no patch');
  assert.match(again.join(''), /nothing changed \(0 migrated, 1 skipped, 0 unchanged, 0 failed\): the skipped Services need a change by hand/);
});

test('a conflict re-reads the Service and plans again: the patch sent is built from what it is now', async () => {
  const api = new MemoryApi();
  api.add('nginx', { type: 'ClusterIP', externalIPs: ['10.200.0.5'] });
  // Someone adds an IPv6 external address between our list and our patch.
  api.interfere.set('default/nginx', (svc) => ({ ...svc, spec: { ...(svc['spec'] as Json), externalIPs: ['10.200.0.5', 'fd00:200::5'] } }));
  const [outcome] = await applyExternalIPsMigration(api);
  assert.equal(outcome?.result, 'migrated');
  assert.equal(outcome.attempts, 2);
  assert.equal(annotations('default/nginx', api)['vipgate.io/ips'], '10.200.0.5,fd00:200::5');
  assert.equal(spec('default/nginx', api)['ipFamilyPolicy'], 'RequireDualStack');
  assert.match(formatApplyOutcome(outcome), /\(after 1 conflict: re-read and planned again\)/);
});

test('a conflict with a Service someone already migrated is "unchanged"; one deleted meanwhile fails alone', async () => {
  const api = new MemoryApi();
  api.add('a', { type: 'ClusterIP', externalIPs: ['10.200.0.5'] });
  api.add('b', { type: 'ClusterIP', externalIPs: ['10.200.0.6'] });
  api.add('c', { type: 'ClusterIP', externalIPs: ['10.200.0.7'] });
  api.add('d', { type: 'ClusterIP', externalIPs: ['10.200.0.8'] });
  api.interfere.set('default/a', (svc) => ({ ...svc, spec: { type: 'LoadBalancer' } }));
  api.interfere.set('default/b', () => undefined);
  api.refuse.set('default/c', 422);
  const outcomes = await applyExternalIPsMigration(api);
  assert.deepEqual(outcomes.map((o) => `${o.name} ${o.result}`), ['a unchanged', 'b failed', 'c failed', 'd migrated'], 'one Service failing does not stop the others');
  assert.match(outcomes[1]!.result === 'failed' ? outcomes[1]!.message : '', /deleted since it was listed/);
  assert.match(outcomes[2]!.result === 'failed' ? outcomes[2]!.message : '', /the API refused the patch: injected 422/);
  assert.equal(spec('default/d', api)['type'], 'LoadBalancer');
  assert.match(formatApplySummary(outcomes), /1 migrated, 0 skipped, 1 unchanged, 2 failed\./);
  assert.equal(await runMigrateApply(api, {}, () => undefined), 1, 'exit status 1 while a Service fails');
});

test('a Service changed on every try gives up after the attempts, naming them', async () => {
  const api = new MemoryApi();
  api.add('busy', { type: 'ClusterIP', externalIPs: ['10.200.0.5'] });
  const original = api.patchService.bind(api);
  api.patchService = (ns, name, patch) => {
    api.interfere.set(`${ns}/${name}`, (svc) => svc); // a no-op write that still bumps resourceVersion
    return original(ns, name, patch);
  };
  const [outcome] = await applyExternalIPsMigration(api, { attempts: 3 });
  assert.deepEqual(outcome, { result: 'failed', namespace: 'default', name: 'busy', message: 'changed by someone else on each of 3 tries; run it again' });
  assert.equal(api.patches.length, 3);
  assert.equal(spec('default/busy', api)['type'], 'ClusterIP');
});

test('--load-balancer-class reaches the patch; flags that do not go together are refused with what to do', async () => {
  const api = new MemoryApi();
  api.add('nginx', { type: 'NodePort', externalIPs: ['10.200.0.5'] });
  await runMigrateApply(api, { loadBalancerClass: 'vipgate.io/lb' }, () => undefined);
  assert.deepEqual(spec('default/nginx', api), { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb' }, 'a NodePort Service keeps its node ports');
  const nodePorts = new MemoryApi();
  nodePorts.add('nginx', { type: 'ClusterIP', externalIPs: ['10.200.0.5'] });
  const out: string[] = [];
  await runMigrateApply(nodePorts, { nodePorts: true }, (t) => out.push(t));
  assert.deepEqual(spec('default/nginx', nodePorts), { type: 'LoadBalancer' }, '--node-ports: allocateLoadBalancerNodePorts is left to its default (true)');
  assert.match(out.join(''), /node ports are allocated \(--node-ports\)/);
  assert.match(migrateFlagsProblem({ apply: true, file: '-' }, false) ?? '', /--apply reads the Services from the API; leave out -f/);
  assert.match(migrateFlagsProblem({ apply: true }, true) ?? '', /-o is for printing the plan/);
  assert.match(migrateFlagsProblem({ kubeconfig: 'k' , file: '-' }, false) ?? '', /--kubeconfig is used with --apply only/);
  assert.match(migrateFlagsProblem({}, false) ?? '', /give -f FILE/);
  assert.equal(migrateFlagsProblem({ apply: true, kubeconfig: 'k' }, false), undefined);
});
