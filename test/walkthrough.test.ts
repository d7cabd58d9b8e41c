// The user's walk-through, asserted: the agent in lb1 serves the VIPs from a standalone config,
// the client gets answers from the pods, a cluster node does not, and the agent survives what
// users and operators do to it (edits, mistakes, hand changes to the kernel, restarts).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../lab/topologies.ts';
import { demoConfig, startWalkthrough, VIPGATE_BIN, type ServicesJson, type WalkthroughLab } from '../lab/scenario.ts';
import { runCommand } from '../lab/run.ts';
import { removeBackendUnderLoad } from './support/backend-removal.ts';

// A UDP service, and a Service that claims an address outside every pool (a would-be hijack).
const EXTRA = `  - name: dns
    type: ClusterIP
    externalIPs: [10.200.0.53]
    ports: [{ name: dns, port: 53, protocol: UDP, targetPort: 80 }]
    backends:
      - { address: ${DEMO.pods.pod2a.v4} }
  - name: hijack
    type: ClusterIP
    externalIPs: [10.99.0.1]
    ports: [{ name: http, port: 80 }]
    backends:
      - { address: ${DEMO.pods.pod1b.v4} }
`;
const config = (nginx2Backends?: string[]): string =>
  demoConfig({ resyncSeconds: 1, extraServices: EXTRA, ...(nginx2Backends ? { nginx2Backends } : {}) });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function vip(view: ServicesJson, service: string, family: 4 | 6 = 4): string {
  const row = view.services.find((s) => s.service === service && s.address.includes(':') === (family === 6));
  assert.ok(row, `${service} has no IPv${family} frontend in ${JSON.stringify(view.services.map((s) => s.service))}`);
  return row.address.includes(':') ? `http://[${row.address}]:${row.port}/` : `http://${row.address}:${row.port}/`;
}

describe('walk-through on the nftables dataplane', { concurrency: false }, () => {
  let w: WalkthroughLab;
  let view: ServicesJson;

  before(async () => {
    w = await startWalkthrough({ config: config() });
    view = await w.waitForServices((v) => v.services.length >= 5);
  });
  after(async () => {
    await w.down();
  });

  test('every VIP answers from the right pods, IPv4 and IPv6', async () => {
    const nginx = await w.lab.curl('client', 'http://10.200.0.5/');
    assert.equal(nginx.body, 'pod1a\n');
    const seen = new Set<string>();
    const nginx2 = vip(view, 'default/nginx2');
    for (let i = 0; i < 20; i++) {
      const r = await w.lab.curl('client', nginx2);
      assert.ok(r.ok, `request ${i} to ${nginx2}: ${r.error ?? r.status}`);
      seen.add(r.body.trim());
    }
    assert.deepEqual([...seen].sort(), ['pod1b', 'pod2a'], 'random choice spreads new connections over both backends');
    const web6 = await w.lab.curl('client', vip(view, 'default/web', 6));
    assert.ok(['pod1a', 'pod2a'].includes(web6.body.trim()), `web over IPv6 answered ${JSON.stringify(web6)}`);
    assert.equal(vip(view, 'default/web', 4).endsWith(':8080/'), true);
  });

  test('UDP through a VIP reaches a pod', async () => {
    const reply = await w.lab.udp('client', '10.200.0.53', 53);
    assert.equal(reply, 'pod2a\n');
  });

  test('a cluster node is refused while the client is served', async () => {
    const fromNode = await w.lab.curl('node1', 'http://10.200.0.5/', { timeoutMs: 1500 });
    assert.equal(fromNode.ok, false, `node1 got an answer: ${fromNode.body}`);
    const fromClient = await w.lab.curl('client', 'http://10.200.0.5/');
    assert.equal(fromClient.ok, true);
  });

  test('a Service claiming an address outside every pool is refused and named; the rest is served', async () => {
    const problem = view.problems.find((p) => p.service === 'default/hijack');
    assert.ok(problem, `no problem reported for default/hijack: ${JSON.stringify(view.problems)}`);
    assert.equal(problem.code, 'EXTERNAL_IP_REJECTED');
    assert.match(problem.message, /10\.99\.0\.1/);
    assert.equal(view.services.some((s) => s.address === '10.99.0.1'), false);
    const text = await w.vipgate(['service', 'list']);
    assert.match(text, /default\/hijack: EXTERNAL_IP_REJECTED/);
  });

  test('counters and metrics count what was served', async () => {
    const before = await w.waitForServices(() => true);
    const row = (v: ServicesJson) => v.services.find((s) => s.address === '10.200.0.5')!;
    for (let i = 0; i < 3; i++) assert.ok((await w.lab.curl('client', 'http://10.200.0.5/')).ok);
    const afterView = await w.waitForServices(() => true);
    assert.ok(BigInt(row(afterView).packets) >= BigInt(row(before).packets) + 9n, `packets ${row(before).packets} → ${row(afterView).packets}`);
    const metrics = await w.lab.exec('lb1', ['curl', '-sf', 'http://127.0.0.1:9470/metrics']);
    const ours = metrics.split('\n').filter((l) => /^vipgate_(frontend|drift)/.test(l)).join('\n');
    // nginx, nginx2, web (v4 and v6) and dns; hijack is refused.
    assert.match(ours, /^vipgate_frontends 5$/m, ours);
    assert.match(ours, /^vipgate_frontend_packets\{frontend="10\.200\.0\.5:80\/tcp"\} [1-9]/m, ours);
  });

  test('removing a backend under load moves traffic with no failed request', async () => {
    await removeBackendUnderLoad(w, vip(view, 'default/nginx2'), config([DEMO.pods.pod2a.v4]));
  });

  test('a bad config on hot reload is refused with file:line and field; the last good state keeps serving', async () => {
    const bad = config([DEMO.pods.pod2a.v4]).replace('port: 8080, targetPort: 80', 'port: 70000, targetPort: 80');
    await w.writeConfig(bad);
    let log = '';
    for (let i = 0; i < 50 && !log.includes('70000'); i++) {
      await sleep(100);
      log = await readFile(w.agentLog, 'utf8');
    }
    assert.match(log, /lb1\.yaml:\d+:\d+: services\[2\]\.ports\[0\]\.port: 70000 is not allowed/);
    const status = JSON.parse(await w.vipgate(['status', '-o', 'json'])) as { configError: string | null };
    assert.match(status.configError ?? '', /70000/);
    assert.ok((await w.lab.curl('client', 'http://10.200.0.5/')).ok, 'the last good state stopped serving');
    await w.writeConfig(config([DEMO.pods.pod2a.v4]));
    await w.waitForServices(() => true);
    for (let i = 0; i < 30; i++) {
      const s = JSON.parse(await w.vipgate(['status', '-o', 'json'])) as { configError: string | null };
      if (s.configError === null) break;
      await sleep(100);
    }
    assert.equal((JSON.parse(await w.vipgate(['status', '-o', 'json'])) as { configError: string | null }).configError, null);
  });

  test('a rule deleted by hand is repaired by the next resync', async () => {
    await w.lab.exec('lb1', ['nft', 'delete', 'element', 'inet', 'vipgate', 'frontends4', '{ 10.200.0.5 . tcp . 80 }']);
    const broken = await w.lab.curl('client', 'http://10.200.0.5/', { timeoutMs: 500 });
    // Either the hand change bit (no answer), or the agent repaired it within 0.5 s already.
    let repaired = false;
    for (let i = 0; i < 40 && !repaired; i++) {
      await sleep(100);
      repaired = (await w.lab.curl('client', 'http://10.200.0.5/', { timeoutMs: 500 })).ok;
    }
    assert.ok(repaired, `not repaired within 4 s (the broken request: ${JSON.stringify(broken)})`);
    const metrics = await w.lab.exec('lb1', ['curl', '-sf', 'http://127.0.0.1:9470/metrics']);
    assert.match(metrics.split('\n').filter((l) => l.startsWith('vipgate_drift')).join('\n'), /^vipgate_drift_repairs_total [1-9]/m);
  });

  test('traffic keeps flowing while the agent is stopped and restarted; VIPs stay put', async () => {
    const nginx2Before = vip(await w.waitForServices(() => true), 'default/nginx2');
    await w.stopAgent();
    const meanwhile = await w.lab.curl('client', 'http://10.200.0.5/');
    assert.ok(meanwhile.ok, 'rules were removed when the agent stopped');
    await w.startAgent();
    const viewAfter = await w.waitForServices((v) => v.services.length >= 5);
    assert.equal(vip(viewAfter, 'default/nginx2'), nginx2Before);
    assert.ok((await w.lab.curl('client', nginx2Before)).ok);
  });

  test('agent --cleanup removes the table and the VIP interface', async () => {
    await w.stopAgent();
    await w.vipgate(['agent', '--config', w.configPath, '--cleanup', '--state-file', '/dev/null']);
    const tables = await w.lab.exec('lb1', ['nft', 'list', 'tables']);
    assert.doesNotMatch(tables, /vipgate/);
    const links = await w.lab.exec('lb1', ['ip', '-br', 'link']);
    assert.doesNotMatch(links, /cilium_ext/);
    assert.equal((await w.lab.curl('client', 'http://10.200.0.5/', { timeoutMs: 500 })).ok, false);
  });
});

test('vipgate agent refuses a bad config at start with status 2 and says where and why', async () => {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const dir = await mkdtemp('/tmp/vipgate-badconfig-');
  const file = `${dir}/lb1.yaml`;
  await writeFile(file, demoConfig().replace('addresses: [10.200.0.0/16]', 'addresses: [10.200.0.0/33]'));
  const r = await runCommand([VIPGATE_BIN, 'agent', '--config', file, '--state-file', `${dir}/s.json`], { timeoutMs: 20_000 });
  assert.equal(r.exitCode, 2, r.stderr);
  assert.match(r.stderr, /lb1\.yaml:\d+:\d+: pools\[0\]\.addresses\[0\]: .*10\.200\.0\.0\/33/);
  const check = await runCommand([VIPGATE_BIN, 'check-config', file], { timeoutMs: 20_000 });
  assert.equal(check.exitCode, 2);
});
