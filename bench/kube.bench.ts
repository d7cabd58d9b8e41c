// Kubernetes mode at scale, against the fake API (test/support/fake-kube-api) over real HTTP:
// 10,000 LoadBalancer Services × 10 endpoints.
//   1. controller: from winning the Lease to the last Service status written (target ≤ 2 s);
//   2. agent (nftables dataplane in a namespace of our own): from the last status event to the
//      end of the reconcile pass whose dataplane holds all 10,000 (target ≤ 3 s);
//   3. one EndpointSlice change to the end of the pass that put it in the kernel (p99 ≤ 100 ms).
// The controller and the agent are the real `vipgate` processes; the fake API runs in the
// benchmark process, which re-executes itself inside the namespace so all three share its
// loopback. Run: npx tsx bench/kube.bench.ts [--quick] [--profile DIR] [--controller-only]
// (--controller-only: measure 1 alone, for working on the controller; nothing is written to results/)
// [--compare-http [--rounds N]]: 1 alone, N times (default 5) on each of the controller's HTTP
// stacks, interleaved; prints each stack's median and their ratio.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeKubeApi, type JsonObject } from '../test/support/fake-kube-api/index.ts';
import { applyVipgateCrds, ensureNamespace } from '../test/support/fake-kube-api/fixtures.ts';
import { commandLine, formatTable, machine, verdict, writeResult } from './lib/report.ts';
import { percentile, summarize } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const controllerOnly = process.argv.includes('--controller-only');
const compare = process.argv.includes('--compare-http');
const ROUNDS = ((i) => (i < 0 ? 5 : Number(process.argv[i + 1])))(process.argv.indexOf('--rounds'));
const SERVICES = 10_000;
const ENDPOINTS = 10;
const CHANGES = quick ? 20 : 100;
const TARGETS = { controllerMs: 2000, agentMs: 3000, changeP99Ms: 100 } as const;
const SELF = fileURLToPath(import.meta.url);
const VIPGATE = fileURLToPath(new URL('../bin/vipgate', import.meta.url));
const AGENT_API = '127.0.0.1:19470';
const TSX_LOADER = new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function run(argv: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv;
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      process.stdout.write(c.split('\n').filter((l) => !l.startsWith('{')).join('\n'));
    });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')}: ${signal ?? `exit ${code}`}`));
    });
  });
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

interface AgentStatusView {
  readonly frontends: number;
  readonly lastPass: { readonly at: string; readonly durationMs: number; readonly ok: boolean; readonly errors: readonly string[]; readonly phases?: Record<string, number> } | null;
}

/** Polls the agent until `check` holds; returns the view that satisfied it. */
async function waitAgent(check: (v: AgentStatusView) => boolean, timeoutMs: number, intervalMs = 5): Promise<AgentStatusView> {
  const deadline = Date.now() + timeoutMs;
  let last: AgentStatusView | undefined;
  while (Date.now() < deadline) {
    try {
      last = (await getJson(`http://${AGENT_API}/v1/status`)) as AgentStatusView;
      if (check(last)) return last;
    } catch {
      // not up yet
    }
    await sleep(intervalMs);
  }
  throw new Error(`the agent did not get there in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** `--profile DIR`: CPU profiles of the controller, the agent and the fake API server's process (.cpuprofile, for DevTools). */
const PROFILE_DIR = ((i) => (i < 0 ? undefined : process.argv[i + 1]))(process.argv.indexOf('--profile'));

function vipgate(args: readonly string[], log: string, env: Readonly<Record<string, string>> = {}): ChildProcess {
  // What bin/vipgate runs, with the profiler when asked (Node refuses --cpu-prof in NODE_OPTIONS).
  const node = PROFILE_DIR === undefined ? [VIPGATE] : [process.execPath, '--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, '--import', TSX_LOADER, MAIN];
  const quoted = [...node, ...args].map((a) => `'${a}'`).join(' ');
  return spawn('sh', ['-c', `exec ${quoted} >>'${log}' 2>&1`], { stdio: 'ignore', env: { ...process.env, ...env } });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  child.kill('SIGKILL');
}

const endpointAddress = (i: number, e: number): string => `10.${100 + (i >> 12)}.${(i >> 4) & 0xff}.${((i & 0xf) << 4) + e + 1}`;

function slice(i: number, endpoints: number): JsonObject {
  return {
    metadata: { name: `svc${i}-abc`, namespace: `ns${i % 10}`, labels: { 'kubernetes.io/service-name': `svc${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: endpoints }, (_, e) => ({ addresses: [endpointAddress(i, e)], conditions: { ready: true, serving: true, terminating: false } })),
  };
}

/** User + system CPU time of a process so far, from /proc (clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // After "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based, as in proc(5)).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

interface Seeded {
  readonly dir: string;
  readonly api: FakeKubeApi;
  readonly kubeconfig: string;
}

/** A fresh fake API holding 10,000 LoadBalancer Services without status, and their slices. */
async function seed(): Promise<Seeded> {
  const dir = mkdtempSync(join(tmpdir(), 'vipgate-kube-bench-'));
  const api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfig());
  const services = api.resource('services');
  const slices = api.resource('endpointslices');
  api.store.create(api.resource('vippools'), undefined, { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'bench' }, spec: { addresses: ['10.200.0.0/16'] } });
  for (let n = 0; n < 10; n++) ensureNamespace(api, `ns${n}`);
  for (let i = 0; i < SERVICES; i++) {
    api.store.create(services, `ns${i % 10}`, {
      metadata: { name: `svc${i}`, namespace: `ns${i % 10}` },
      // No node ports: 10,000 Services would exhaust the node-port range (30000-32767), as on a real cluster.
      spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', allocateLoadBalancerNodePorts: false, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    api.store.create(slices, `ns${i % 10}`, slice(i, ENDPOINTS));
  }
  return { dir, api, kubeconfig };
}

interface ControllerResult {
  readonly controllerMs: number;
  readonly controllerFromSpawnMs: number;
  readonly firstStatusMs: number;
  readonly controllerCpuMs: number;
  readonly apiCpuMs: number;
}

/** The HTTP stack the controller uses for the API server (`VIPGATE_KUBE_HTTP`, src/controller/run.ts). */
type Stack = 'ours' | 'library';

/** 1. The controller: Lease won → every status written. The controller is stopped after. */
async function measureController({ dir, api, kubeconfig }: Seeded, stack: Stack, children: ChildProcess[]): Promise<ControllerResult> {
  let assigned = 0;
  let lastAssignedAt = 0;
  let firstAssignedAt = 0;
  let leaseAt = 0;
  const hasIngress = (o: JsonObject): boolean => ((((o['status'] as JsonObject | undefined)?.['loadBalancer'] as JsonObject | undefined)?.['ingress'] as unknown[] | undefined) ?? []).length > 0;
  // CPU time of the controller and of this process (the fake API) over the same window: on 2
  // shared cores the wall clock alone does not say whose time it was.
  let cpuAtLease = { controller: 0, api: 0 };
  let cpuAtEnd = { controller: 0, api: 0 };
  const cpuNow = (): { controller: number; api: number } => {
    const u = process.cpuUsage();
    return { controller: controller.pid === undefined ? 0 : processCpuMs(controller.pid), api: (u.user + u.system) / 1000 };
  };
  api.store.onChange((r, e) => {
    if (r.plural === 'leases' && leaseAt === 0) {
      leaseAt = performance.now();
      cpuAtLease = cpuNow();
    }
    if (r.plural === 'services' && e.type === 'MODIFIED' && hasIngress(e.object) && (e.previous === undefined || !hasIngress(e.previous))) {
      assigned++;
      lastAssignedAt = performance.now();
      if (firstAssignedAt === 0) firstAssignedAt = lastAssignedAt;
      if (assigned === SERVICES) cpuAtEnd = cpuNow();
    }
  });
  const spawnedAt = performance.now();
  const controller = vipgate(['controller', '--kubeconfig', kubeconfig, '--lease-namespace', 'vipgate-system', '--metrics-listen', '127.0.0.1:19471'], join(dir, 'controller.log'), { VIPGATE_KUBE_HTTP: stack });
  children.push(controller);
  // Generous: on a loaded machine the library's stack has taken 90 s.
  const deadline = Date.now() + 300_000;
  while (assigned < SERVICES && Date.now() < deadline) await sleep(20);
  if (assigned < SERVICES) throw new Error(`the controller (${stack} HTTP) assigned ${assigned} of ${SERVICES} in 300 s; see ${dir}/controller.log`);
  const r = {
    controllerMs: lastAssignedAt - leaseAt,
    controllerFromSpawnMs: lastAssignedAt - spawnedAt,
    firstStatusMs: firstAssignedAt - leaseAt,
    controllerCpuMs: cpuAtEnd.controller - cpuAtLease.controller,
    apiCpuMs: cpuAtEnd.api - cpuAtLease.api,
  };
  console.log(`controller (${stack} HTTP): ${SERVICES} assigned ${r.controllerMs.toFixed(0)} ms after winning the Lease (${r.controllerFromSpawnMs.toFixed(0)} ms after spawn; the first status ${r.firstStatusMs.toFixed(0)} ms after the Lease: informers listed, allocator rebuilt); CPU in that time: controller ${r.controllerCpuMs.toFixed(0)} ms, fake API ${r.apiCpuMs.toFixed(0)} ms; load ${(loadavg()[0] ?? 0).toFixed(2)}`);
  await stop(controller);
  return r;
}

/**
 * `--compare-http`: the controller on each HTTP stack, interleaved (ours, library, ours, ...)
 * so that whatever else runs on the shared cores falls on both alike; a fresh fake API each time.
 */
async function compareHttp(): Promise<void> {
  const runs: { stack: Stack; load: number; result: ControllerResult }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always follows the other's garbage.
    for (const stack of (round % 2 === 0 ? ['ours', 'library'] : ['library', 'ours']) as Stack[]) {
      const seeded = await seed();
      const children: ChildProcess[] = [];
      try {
        const load = loadavg()[0] ?? 0;
        runs.push({ stack, load, result: await measureController(seeded, stack, children) });
      } finally {
        for (const child of children) await stop(child);
        await seeded.api.stop();
        rmSync(seeded.dir, { recursive: true, force: true });
      }
    }
  }
  console.log(JSON.stringify({ runs }));
}

/** Inside the namespace: the fake API here, the controller and the agent as child processes. */
async function inside(): Promise<void> {
  if (compare) return compareHttp();
  const seeded = await seed();
  const { dir, api, kubeconfig } = seeded;
  const services = api.resource('services');
  const slices = api.resource('endpointslices');
  const children: ChildProcess[] = [];
  try {
    const { controllerMs, controllerFromSpawnMs, firstStatusMs, controllerCpuMs, apiCpuMs } = await measureController(seeded, 'ours', children);
    if (controllerOnly) {
      console.log(JSON.stringify({ controllerMs, controllerFromSpawnMs, firstStatusMs, controllerCpuMs, apiCpuMs }));
      return;
    }

    // 2. The agent: running, statuses taken away, then all written back in one burst.
    const statuses = new Map<string, JsonObject>();
    for (const svc of api.store.list(services, undefined)) {
      const meta = svc['metadata'] as JsonObject;
      statuses.set(`${meta['namespace'] as string}/${meta['name'] as string}`, svc['status'] as JsonObject);
      api.store.update(services, meta['namespace'] as string, meta['name'] as string, { ...svc, status: { loadBalancer: {} } }, 'status');
    }
    const nodeConfig = join(dir, 'node.yaml');
    writeFileSync(nodeConfig, `apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\nnodeName: bench\napi: { listen: '${AGENT_API}' }\nvipInterface: { name: vgbench0, routes: [10.200.0.0/16] }\ndataplane: { engine: nftables, resyncSeconds: 86400 }\n`);
    const agent = vipgate(['agent', '--config', nodeConfig, '--kubeconfig', kubeconfig, '--state-file', join(dir, 'state.json')], join(dir, 'agent.log'));
    children.push(agent);
    await waitAgent((v) => v.lastPass?.ok === true, 60_000, 100);
    await sleep(500);
    for (const [key, status] of statuses) {
      const [ns, name] = key.split('/') as [string, string];
      api.store.update(services, ns, name, { ...api.store.get(services, ns, name), status }, 'status');
    }
    const lastEventAt = Date.now();
    const converged = await waitAgent((v) => v.frontends === SERVICES && v.lastPass?.ok === true, 60_000, 10);
    const agentMs = Date.parse(converged.lastPass!.at) - lastEventAt;
    console.log(`agent: all ${SERVICES} in the dataplane ${agentMs} ms after the last event (last pass ${converged.lastPass!.durationMs.toFixed(0)} ms)`);

    // 3. One EndpointSlice change at a time: a pod leaves, then comes back.
    const changes: number[] = [];
    const passes: number[] = [];
    const phases: Record<string, number[]> = {};
    for (let n = 0; n < CHANGES; n++) {
      const i = (n * 7919) % SERVICES;
      const before = (await getJson(`http://${AGENT_API}/v1/status`)) as AgentStatusView;
      const current = api.store.get(slices, `ns${i % 10}`, `svc${i}-abc`);
      const startedAt = Date.now();
      api.store.update(slices, `ns${i % 10}`, `svc${i}-abc`, { ...slice(i, n % 2 === 0 ? ENDPOINTS - 1 : ENDPOINTS), metadata: current['metadata']! }, undefined);
      // The end time is the pass's own timestamp, so polling need not be fast; fast polling
      // (each status carries 10,000 advertised prefixes) would load the agent being measured.
      const after = await waitAgent((v) => v.lastPass !== null && v.lastPass.at !== before.lastPass?.at && Date.parse(v.lastPass.at) >= startedAt, 10_000, 25);
      if (!after.lastPass!.ok) throw new Error(`a pass failed: ${after.lastPass!.errors.join('; ')}`);
      changes.push(Date.parse(after.lastPass!.at) - startedAt);
      passes.push(after.lastPass!.durationMs);
      for (const [phase, ms] of Object.entries(after.lastPass!.phases ?? {})) (phases[phase] ??= []).push(ms);
      await sleep(20);
    }
    const c = summarize(changes);
    console.log(`one change: median ${c.median} ms, p99 ${percentile(changes, 99)} ms (pass ${summarize(passes).median.toFixed(0)} ms; phase medians ${Object.entries(phases).map(([k, v]) => `${k} ${summarize(v).median.toFixed(1)}`).join(', ')})`);
    await stop(agent);
    // The last line is the result, for the outer process.
    console.log(JSON.stringify({ controllerMs, controllerFromSpawnMs, firstStatusMs, controllerCpuMs, apiCpuMs, agentMs, agentPassMs: converged.lastPass!.durationMs, changes, passes }));
  } finally {
    for (const child of children) await stop(child);
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface InsideResult {
  readonly controllerMs: number;
  readonly controllerFromSpawnMs: number;
  readonly firstStatusMs: number;
  readonly controllerCpuMs: number;
  readonly apiCpuMs: number;
  readonly agentMs: number;
  readonly agentPassMs: number;
  readonly changes: number[];
  readonly passes: number[];
}

interface Comparison {
  readonly runs: readonly { readonly stack: Stack; readonly load: number; readonly result: ControllerResult }[];
}

function reportComparison({ runs }: Comparison, started: ReturnType<typeof machine>): void {
  const of = (stack: Stack): ControllerResult[] => runs.filter((x) => x.stack === stack).map((x) => x.result);
  const median = (xs: readonly number[]): number => summarize([...xs]).median;
  const rows = (['ours', 'library'] as Stack[]).map((stack) => {
    const rs = of(stack);
    return [stack, rs.map((x) => x.controllerMs.toFixed(0)).join(', '), `${median(rs.map((x) => x.controllerMs)).toFixed(0)} ms`, `${median(rs.map((x) => x.firstStatusMs)).toFixed(0)} ms`, `${median(rs.map((x) => x.controllerCpuMs)).toFixed(0)} / ${median(rs.map((x) => x.apiCpuMs)).toFixed(0)} ms`];
  });
  const ours = median(of('ours').map((x) => x.controllerMs));
  const library = median(of('library').map((x) => x.controllerMs));
  const loads = runs.map((x) => x.load);
  console.log(`\ncontroller, Lease won → ${SERVICES} statuses written, each HTTP stack ${ROUNDS} times, interleaved`);
  console.log(formatTable(['stack', 'runs (ms, in order)', 'median', 'first status', 'CPU controller / fake API'], rows));
  console.log(`library / ours = ${(library / ours).toFixed(3)} (ours is ${(((library - ours) / library) * 100).toFixed(1)} % faster by median); load ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} (1-min average at each run's start); ${started.date}, commit ${started.commit}${started.uncommitted.length > 0 ? ` + uncommitted ${started.uncommitted.join(' ')}` : ''}`);
}

async function main(): Promise<void> {
  const started = machine();
  const ns = `vgb${randomBytes(2).toString('hex')}-kube`;
  await run(['ip', 'netns', 'add', ns], 10_000);
  let last: string;
  try {
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'], 10_000);
    const out = await run(['ip', 'netns', 'exec', ns, process.execPath, ...(PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`]), '--import', 'tsx', SELF, '--inside', ...(quick ? ['--quick'] : []), ...(controllerOnly ? ['--controller-only'] : []), ...(compare ? ['--compare-http', '--rounds', String(ROUNDS)] : []), ...(PROFILE_DIR === undefined ? [] : ['--profile', PROFILE_DIR])], compare ? 2 * ROUNDS * 300_000 : 600_000);
    last = out.trim().split('\n').pop()!;
  } finally {
    await run(['ip', 'netns', 'del', ns], 10_000);
  }
  if (compare) return reportComparison(JSON.parse(last) as Comparison, started);
  const r = JSON.parse(last) as InsideResult;
  if (controllerOnly) {
    console.log(`\ncontroller: Lease won → ${SERVICES} statuses written: ${r.controllerMs.toFixed(0)} ms (target ≤ ${TARGETS.controllerMs} ms: ${verdict(r.controllerMs, TARGETS.controllerMs, 'lower')}); first status ${r.firstStatusMs.toFixed(0)} ms; CPU controller ${r.controllerCpuMs.toFixed(0)} / fake API ${r.apiCpuMs.toFixed(0)} ms; from spawn ${r.controllerFromSpawnMs.toFixed(0)} ms; load ${started.loadAverage.toFixed(2)}, commit ${started.commit}`);
    return;
  }
  const change = summarize(r.changes);
  const p99 = percentile(r.changes, 99);
  const rows = [
    [`controller: Lease won → ${SERVICES} statuses written`, `${r.controllerMs.toFixed(0)} ms`, `≤ ${TARGETS.controllerMs} ms`, verdict(r.controllerMs, TARGETS.controllerMs, 'lower')],
    ['controller: from process spawn (TypeScript load, list, rebuild)', `${r.controllerFromSpawnMs.toFixed(0)} ms`, '', ''],
    ['controller: CPU in that window, controller / fake API process', `${r.controllerCpuMs.toFixed(0)} / ${r.apiCpuMs.toFixed(0)} ms`, '', ''],
    [`agent: last event → dataplane holds ${SERVICES} × ${ENDPOINTS}`, `${r.agentMs.toFixed(0)} ms`, `≤ ${TARGETS.agentMs} ms`, verdict(r.agentMs, TARGETS.agentMs, 'lower')],
    ['agent: that last reconcile pass', `${r.agentPassMs.toFixed(0)} ms`, '', ''],
    [`one EndpointSlice change → kernel: median / p99 (n=${r.changes.length})`, `${change.median.toFixed(0)} / ${p99.toFixed(0)} ms`, `p99 ≤ ${TARGETS.changeP99Ms} ms`, verdict(p99, TARGETS.changeP99Ms, 'lower')],
    ['one change: reconcile pass alone, median', `${summarize(r.passes).median.toFixed(0)} ms`, '', ''],
  ];
  console.log(`\nKubernetes mode (fake API over HTTP, nftables in a namespace), ${SERVICES} Services × ${ENDPOINTS} endpoints`);
  console.log(formatTable(['measure', 'value', 'target', ''], rows));
  const path = writeResult('kube', {
    benchmark: 'kube',
    command: commandLine(),
    machine: started,
    services: SERVICES,
    endpoints: ENDPOINTS,
    controllerMs: r.controllerMs,
    controllerFromSpawnMs: r.controllerFromSpawnMs,
    controllerFirstStatusMs: r.firstStatusMs,
    controllerCpuMs: r.controllerCpuMs,
    fakeApiCpuMs: r.apiCpuMs,
    agentMs: r.agentMs,
    agentPassMs: r.agentPassMs,
    changeMs: { ...change, p99, samples: r.changes },
    changePassMs: summarize(r.passes),
    targets: TARGETS,
  });
  console.log(`\nwritten to ${path}`);
}

if (process.argv.includes('--inside')) await inside();
else await main();
