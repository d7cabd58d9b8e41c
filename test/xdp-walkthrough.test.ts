// The user's walk-through on the XDP dataplane: the demo lab (one-armed: lb1 has one interface,
// `dc`, shared with the router and the nodes), the agent in lb1 with `engine: xdp`, generic mode,
// nat with SNAT. Asserts what a user sees (answers through every VIP, a refused cluster node, no
// failed request while a backend is removed or the agent restarts) and, from the program's own
// counters, that the XDP path carried the traffic rather than the kernel's slow path.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../lab/topologies.ts';
import type { ExplainReport } from '../src/cli/format-explain.ts';
import { demoConfig, startWalkthrough, type ServicesJson, type WalkthroughLab } from '../lab/scenario.ts';
import { buildBpfObject } from '../src/dataplane/xdp/index.ts';
import { removeBackendUnderLoad } from './support/backend-removal.ts';

const UDP_SERVICE = `  - name: dns
    type: ClusterIP
    externalIPs: [10.200.0.53]
    ports: [{ name: dns, port: 53, protocol: UDP, targetPort: 80 }]
    backends:
      - { address: ${DEMO.pods.pod2a.v4} }
`;
const XDP = `  engine: xdp\n  xdp: { interfaces: [dc], mode: generic, snatAddresses: [${DEMO.lbNode.v4}, "${DEMO.lbNode.v6}"] }\n`;

function config(nginx2Backends?: string[]): string {
  const text = demoConfig({ resyncSeconds: 1, extraServices: UDP_SERVICE, ...(nginx2Backends ? { nginx2Backends } : {}) });
  assert.ok(text.includes('  engine: nftables\n'), 'demoConfig no longer names its engine the way this test replaces it');
  return text.replace('  engine: nftables\n', XDP);
}

// One keep-alive HTTP connection, a request every `interval` ms for `duration` ms. Prints a JSON
// summary: requests, failures, and every local port used (one port = one connection throughout).
const KEEPALIVE_CLIENT = `
const http = require('node:http');
const [url, duration, interval] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const ports = new Set(); let ok = 0; const errors = [];
const deadline = Date.now() + Number(duration);
const once = () => new Promise((resolve) => {
  const req = http.get(url, { agent, timeout: 1000 }, (res) => { res.resume(); res.on('end', () => { ok++; resolve(); }); });
  req.on('socket', (s) => s.once('connect', () => ports.add(s.localPort)));
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => { errors.push(e.message); resolve(); });
});
(async () => {
  while (Date.now() < deadline) { await once(); await new Promise((r) => setTimeout(r, Number(interval))); }
  console.log(JSON.stringify({ ok, errors, ports: [...ports] }));
  agent.destroy();
})();
`;

interface Stats {
  forwarded: number;
  kernelNeighbour: number;
  kernelFib: number;
  dropped: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('walk-through on the XDP dataplane (one-armed lb1, generic mode, nat)', { concurrency: false }, () => {
  let w: WalkthroughLab;
  let view: ServicesJson;

  /** vg_stats of the program attached to lb1's dc, found through the link (maps are global). */
  async function stats(): Promise<Stats> {
    const link = JSON.parse(await w.lab.exec('lb1', ['ip', '-j', '-d', 'link', 'show', 'dc'])) as { xdp?: { prog?: { id: number } } }[];
    const progId = link[0]?.xdp?.prog?.id;
    assert.ok(progId !== undefined, `no XDP program on lb1's dc: ${JSON.stringify(link[0]?.xdp)}`);
    const prog = JSON.parse(await w.lab.exec('lb1', ['bpftool', '-j', 'prog', 'show', 'id', String(progId)])) as { map_ids: number[] };
    for (const id of prog.map_ids) {
      const map = JSON.parse(await w.lab.exec('lb1', ['bpftool', '-j', 'map', 'show', 'id', String(id)])) as { name: string };
      if (map.name !== 'vg_stats') continue;
      // With BTF, bpftool adds a decoded `formatted` view of each per-CPU entry.
      const dump = JSON.parse(await w.lab.exec('lb1', ['bpftool', '-j', 'map', 'dump', 'id', String(id)])) as { formatted: { key: number; values: { value: number }[] } }[];
      const total = (k: number): number => (dump.find((e) => e.formatted.key === k)?.formatted.values ?? []).reduce((sum, v) => sum + v.value, 0);
      return { forwarded: total(0), kernelNeighbour: total(1), kernelFib: total(2), dropped: total(3) };
    }
    throw new Error(`program ${progId} has no vg_stats map`);
  }

  function url(service: string, family: 4 | 6 = 4): string {
    const row = view.services.find((s) => s.service === service && s.address.includes(':') === (family === 6));
    assert.ok(row, `${service} has no IPv${family} frontend`);
    return row.address.includes(':') ? `http://[${row.address}]:${row.port}/` : `http://${row.address}:${row.port}/`;
  }

  before(async () => {
    buildBpfObject();
    w = await startWalkthrough({ config: config() });
    view = await w.waitForServices((v) => v.services.length >= 5);
  });
  after(async () => {
    await w.down();
  });

  test('curl through every VIP, IPv4 and IPv6, gets a pod; after the first packets XDP forwards them', async () => {
    assert.equal((await w.lab.curl('client', 'http://10.200.0.5/')).body, 'pod1a\n');
    const before = await stats();
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await w.lab.curl('client', url('default/nginx2'));
      assert.ok(r.ok, `request ${i} to nginx2: ${r.error ?? r.status}`);
      seen.add(r.body.trim());
    }
    assert.deepEqual([...seen].sort(), ['pod1b', 'pod2a'], 'Maglev spreads new connections over both backends');
    for (const family of [4, 6] as const) {
      const r = await w.lab.curl('client', url('default/web', family));
      assert.ok(['pod1a\n', 'pod2a\n'].includes(r.body), `web over IPv${family}: ${JSON.stringify(r)}`);
    }
    const after = await stats();
    // 22 connections of ≥ 4 packets each way went through the VIPs.
    assert.ok(after.forwarded - before.forwarded >= 22 * 4 * 2, `forwarded by XDP: ${before.forwarded} → ${after.forwarded}`);
    // Only packets toward a next hop not yet resolved (a handful) took the kernel's slow path.
    assert.ok(after.kernelNeighbour <= 12, `slow-path packets: ${after.kernelNeighbour}`);
    // The agent's metrics say the same (read from the same map, a moment later).
    const metrics = await w.lab.exec('lb1', ['curl', '-sf', 'http://127.0.0.1:9470/metrics']);
    const forwarded = /^vipgate_xdp_packets_total\{path="forwarded"\} (\d+)$/m.exec(metrics);
    assert.ok(forwarded !== null && Number(forwarded[1]) >= after.forwarded, `metrics: ${metrics.split('\n').filter((l) => l.startsWith('vipgate_xdp')).join('; ')}`);
    assert.match(metrics, /^vipgate_xdp_icmp_too_big_total\{result="limited"\} 0$/m);
  });

  test('UDP through a VIP reaches a pod', async () => {
    assert.equal(await w.lab.udp('client', '10.200.0.53', 53), 'pod2a\n');
  });

  test('vipgate explain reads the XDP maps and the attachment back, and sees the packets of a curl meanwhile', async () => {
    const state = { answered: false };
    const asking = w.vipgate(['explain', '10.200.0.5:80', '-o', 'json', '--sample', '1500']).finally(() => (state.answered = true));
    // Requests until the answer (the CLI's start-up takes a moment before the first counter read).
    for (let i = 0; i < 50 && !state.answered; i++) {
      assert.equal((await w.lab.curl('client', 'http://10.200.0.5/')).ok, true);
      await new Promise((r) => setTimeout(r, 100));
    }
    const report = JSON.parse(await asking) as ExplainReport;
    const links = report.answers[0]?.explanation?.links ?? [];
    assert.equal(report.served, true, JSON.stringify(links));
    assert.match(links.find((l) => l.link === 'dataplane')?.says ?? '', /^read back from the kernel: 10\.200\.0\.5:80\/tcp: vg_services entry 10\.200\.0\.5:80\/tcp \(slot \d+\), 1 backend$/);
    assert.match(links.find((l) => l.link === 'traffic')?.says ?? '', /^\d+ packets in 1\.5 s$/);
  });

  test('a cluster node is refused (dropped in XDP) while the client is served', async () => {
    const before = await stats();
    const fromNode = await w.lab.curl('node1', 'http://10.200.0.5/', { timeoutMs: 1500 });
    assert.equal(fromNode.ok, false, `node1 got an answer: ${fromNode.body}`);
    assert.ok((await stats()).dropped > before.dropped, 'the refused SYNs were not counted as dropped');
    assert.equal((await w.lab.curl('client', 'http://10.200.0.5/')).ok, true);
  });

  test('a frame for another host (flooded by the bridge) does not start a flow on lb1', async () => {
    // The router sends to 10.200.0.5 via a neighbour that does not exist: its bridge floods the
    // frames (unknown unicast) to every port, lb1's too. The kernel would drop them as another
    // host's; XDP sees them first and must not serve them (a second LB for someone else's flows).
    const ghost = { ip: '10.180.1.99', mac: '02:00:00:00:00:99' };
    const before = await stats();
    await w.lab.exec('router', ['ip', 'neigh', 'replace', ghost.ip, 'lladdr', ghost.mac, 'dev', 'dc', 'nud', 'permanent']);
    await w.lab.exec('router', ['ip', 'route', 'replace', '10.200.0.5/32', 'via', ghost.ip, 'dev', 'dc']);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await w.lab.curl('client', 'http://10.200.0.5/', { timeoutMs: 800 });
        assert.equal(r.ok, false, `lb1 served a flow whose frames were addressed to ${ghost.mac}: ${r.body}`);
      }
      assert.equal((await stats()).forwarded, before.forwarded, 'XDP forwarded frames addressed to another host');
    } finally {
      await w.lab.exec('router', ['ip', 'route', 'del', '10.200.0.5/32', 'via', ghost.ip, 'dev', 'dc']);
      await w.lab.exec('router', ['ip', 'neigh', 'del', ghost.ip, 'dev', 'dc']);
    }
    assert.equal((await w.lab.curl('client', 'http://10.200.0.5/')).ok, true, 'the VIP answers again through lb1');
  });

  test('a resync that changes nothing writes nothing and reports no change', async () => {
    const log = await readFile(w.agentLog, 'utf8');
    const updates = (text: string): number => text.split('\n').filter((l) => l.includes('"dataplane updated"')).length;
    await sleep(3000); // three resyncs at resyncSeconds: 1
    assert.equal(updates(await readFile(w.agentLog, 'utf8')), updates(log), 'a no-op resync logged "dataplane updated"');
    const status = JSON.parse(await w.vipgate(['status', '-o', 'json'])) as { lastPass: { dataplane: { changed: boolean; durationMs: number } } };
    assert.equal(status.lastPass.dataplane.changed, false, JSON.stringify(status.lastPass));
    assert.ok(status.lastPass.dataplane.durationMs < 100, `resync took ${status.lastPass.dataplane.durationMs} ms`);
  });

  // With 8,000 connections at ~800/s all going to pod2a after the removal, SNAT ports came round
  // again within seconds while pod2a still held the old connections in TIME_WAIT, and its PAWS
  // check dropped 2–5 new SYNs (TcpExtPAWSTimewait on the pod). Ports now rest 60 s before reuse
  // (docs/design/002-xdp-dataplane.md, "SNAT ports and TIME_WAIT").
  test('removing a backend under load moves traffic with no failed request', async () => {
    await removeBackendUnderLoad(w, url('default/nginx2'), config([DEMO.pods.pod2a.v4]));
  });

  test('an agent restart under load drops no established connection: program and maps stay attached, the connection table carries over', async (t) => {
    const target = url('default/web');
    const keepalive = w.lab.exec('client', [process.execPath, '-e', KEEPALIVE_CLIENT, target, '9000', '50'], { timeoutMs: 30_000 });
    const probe = w.lab.flowProbe('client', 'http://10.200.0.5/', { durationMs: 9000, concurrency: 2, timeoutMs: 1000 });
    await sleep(1500);
    await w.stopAgent();
    await sleep(1000); // no agent at all for a second: the kernel keeps serving
    await w.startAgent().catch(async (error: unknown) => {
      throw new Error(`restart failed; agent log:\n${(await readFile(w.agentLog, 'utf8')).slice(-3000)}`, { cause: error });
    });
    const [kept, samples] = await Promise.all([keepalive, probe]);
    const summary = JSON.parse(kept) as { ok: number; errors: string[]; ports: number[] };
    assert.deepEqual(summary.errors, [], 'the long-lived connection saw errors');
    assert.equal(summary.ports.length, 1, `the long-lived connection was replaced: local ports ${summary.ports.join(', ')}`);
    assert.ok(summary.ok >= 50, `only ${summary.ok} requests on the long-lived connection`);
    const bad = samples.filter((s) => !s.ok);
    assert.ok(samples.length >= 100, `only ${samples.length} new connections across the restart`);
    // New connections opened while the agent restarts: a few in thousands were lost before SNAT
    // ports rested through the backends' TIME_WAIT (the cause of the backend-removal losses);
    // none since in 3 runs, but kept as `todo` until it has a longer record (docs/design/002).
    assert.ok(bad.length <= samples.length / 100, `${bad.length} of ${samples.length} new connections failed across the restart`);
    await t.test('no new connection is lost across the restart either', { todo: 'a few in thousands were lost before the SNAT TIME_WAIT fix; strict once it has a longer record (docs/design/002)' }, () => {
      assert.deepEqual(bad.slice(0, 3), [], `${bad.length} of ${samples.length} new connections failed across the restart`);
    });
    const log = await readFile(w.agentLog, 'utf8');
    assert.match(log, /took over the maps of the xdp program already attached/, 'the new agent did not reuse the running maps');
  });
});
