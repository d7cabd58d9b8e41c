// Draining an LB node with no failed request: both LB nodes on the XDP engine with `ipip` or `gue`
// forwarding (the client's packet, unchanged, inside an outer header to a pod that decapsulates,
// holds the VIP and answers the client directly), BIRD with ECMP that honours GRACEFUL_SHUTDOWN.
// A flow the router moves between LB nodes keeps its backend — the flow hash and the Maglev table
// are the same on every node — and the backend keeps seeing the client's own address, so the
// connection carries on. Measured with new connections and with long-lived keep-alive ones whose
// packets cross from lb1 to lb2 and back; XDP `nat` in the same lab is the control, where moved
// connections are reset (docs/design/013-drain.md, "Limits").
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { directReturnBackends } from '../lab/encap-backends.ts';
import { bgpDemoConfig, startBgpWalkthrough, type BgpWalkthroughLab, type LbName } from '../lab/scenario-bgp.ts';
import type { FlowSample } from '../lab/probe.ts';
import type { LabProcess } from '../lab/lab.ts';
import type { LbAgent, ServicesJson } from '../lab/scenario.ts';
import { DEMO } from '../lab/topologies.ts';
import { projectRoot } from '../src/project-root.ts';
import { mountPrivateBpffs, type PrivateBpffs } from './support/bpffs.ts';
import { eventually } from './support/eventually.ts';
import { steadyLoad } from './support/steady-load.ts';

const LB1 = DEMO.lbNode;
const LB2 = DEMO.lbNode2;
const KEEPALIVE_PROBE = `${projectRoot()}/lab/keepalive-probe.mjs`;
/** Long-lived connections: with ECMP hashing on ports, about half start on lb1 (that none does: 1 in 4096). */
const CONNECTIONS = 12;
/** Opened while lb1 is drained: about half move to lb1 at the undrain (that none does: 1 in 4096). */
const LATE_CONNECTIONS = 12;
const DRAIN = '  drain: { asPathPrepend: 0, quietSeconds: 1, timeoutSeconds: 20 }\n';

type XdpForwarding = 'ipip' | 'gue' | 'nat';

function config(node: LbName, forwarding: XdpForwarding, pinRoot: string): string {
  const own = node === 'lb1' ? LB1 : LB2;
  const xdp = { snatAddresses: [own.v4, own.v6], forwarding, pinDir: `${pinRoot}/${node}` };
  const text = bgpDemoConfig(node, { resyncSeconds: 1, holdTimeSeconds: 3, xdp });
  const marker = /^ {2}gracefulRestartSeconds: \d+\n/m;
  assert.match(text, marker, 'the demo bgp section changed shape');
  return text.replace(marker, (line) => `${line}${DRAIN}`);
}

const drainState = async (agent: LbAgent): Promise<string> => (JSON.parse(await agent.vipgate(['status', '-o', 'json'])) as { drain: { state: string } }).drain.state;

/** Id of the map `name` of the XDP program on `host`'s dc (maps are global; the link names the program). */
async function xdpMapId(w: BgpWalkthroughLab, host: string, name: string): Promise<string> {
  const link = JSON.parse(await w.lab.exec(host, ['ip', '-j', '-d', 'link', 'show', 'dc'])) as { xdp?: { prog?: { id: number } } }[];
  const progId = link[0]?.xdp?.prog?.id;
  assert.ok(progId !== undefined, `no XDP program on ${host}'s dc`);
  const prog = JSON.parse(await w.lab.exec(host, ['bpftool', '-j', 'prog', 'show', 'id', String(progId)])) as { map_ids: number[] };
  for (const id of prog.map_ids) {
    const map = JSON.parse(await w.lab.exec(host, ['bpftool', '-j', 'map', 'show', 'id', String(id)])) as { name: string };
    if (map.name === name) return String(id);
  }
  throw new Error(`program ${progId} on ${host} has no map ${name}`);
}

/** Client ports of the TCP flows to port 80 in `host`'s connection table (vg_flows). */
async function flowPorts(w: BgpWalkthroughLab, host: string): Promise<Set<number>> {
  const dump = JSON.parse(await w.lab.exec(host, ['bpftool', '-j', 'map', 'dump', 'id', await xdpMapId(w, host, 'vg_flows')], { timeoutMs: 30_000 })) as { key: string[] }[];
  const ports = new Set<number>();
  for (const { key } of dump) {
    // struct vg_flow_key: src[16] dst[16] sport dport (network order) proto.
    const b = key.map((x) => parseInt(x, 16));
    if (b[36] === 6 && b[34] === 0 && b[35] === 80) ports.add(b[32]! * 256 + b[33]!);
  }
  return ports;
}

/** Packets the XDP program on `host` forwarded so far (vg_stats entry 0, all CPUs). */
async function forwarded(w: BgpWalkthroughLab, host: string): Promise<number> {
  const dump = JSON.parse(await w.lab.exec(host, ['bpftool', '-j', 'map', 'dump', 'id', await xdpMapId(w, host, 'vg_stats')])) as { formatted: { key: number; values: { value: number }[] } }[];
  return (dump.find((e) => e.formatted.key === 0)?.formatted.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

interface KeptConnection {
  readonly ok: number;
  readonly failed: readonly { t: number; error: string }[];
  readonly ports: readonly number[];
}

/** The keep-alive connections: started, their first ports known; `stop()` gives each one's record. */
async function keepAlive(w: BgpWalkthroughLab, url: string, connections: number): Promise<{ ports: number[]; stop(): Promise<KeptConnection[]> }> {
  const proc: LabProcess = await w.lab.spawn('client', [process.execPath, KEEPALIVE_PROBE, url, String(connections), '50', '240000']);
  const ready = await proc.waitForLine(/^ready /, 10_000);
  return {
    ports: JSON.parse(ready.slice('ready '.length)) as number[],
    stop: async () => {
      const summary = proc.waitForLine(/^\{"summary"/, 10_000);
      proc.child.kill('SIGTERM');
      return (JSON.parse(await summary) as { summary: KeptConnection[] }).summary;
    },
  };
}

/** Failed requests and broken long-lived connections, as lines to compare with []. */
function failures(samples: readonly FlowSample[], kept: readonly KeptConnection[], t0: number): string[] {
  return [
    ...samples.filter((s) => !s.ok).map((s) => `new connection at ${s.t - t0} ms: ${s.error ?? ''}`),
    ...kept.flatMap((k) => k.failed.map((f) => `keep-alive ${k.ports.join('/')} at ${f.t - t0} ms: ${f.error}`)),
    ...kept.filter((k) => k.ports.length !== 1).map((k) => `keep-alive connection replaced: ports ${k.ports.join(', ')}`),
  ];
}

interface DrainCycle {
  readonly t0: number;
  readonly marks: Readonly<Record<string, number>>;
  readonly samples: readonly FlowSample[];
  readonly kept: readonly KeptConnection[];
  /** Long-lived connections lb1 carried before the drain (by local port): the ones moved to lb2. */
  readonly moved: readonly number[];
  /** Long-lived connections opened through lb2 while lb1 was drained that the undrain moved to lb1. */
  readonly movedBack: readonly number[];
  /** lb1's forwarded packets when drained, and after its restart just before the undrain. */
  readonly lb1Forwarded: readonly number[];
}

/**
 * Under load (new connections, and long-lived ones): drain lb1 → BIRD moves to lb2 → drained;
 * restart lb1 (still drained); undrain → ECMP. Returns what the clients saw, step times and which
 * long-lived connections crossed from lb1 to lb2.
 */
async function drainCycle(w: BgpWalkthroughLab, url: string, kernelVia: (hops: readonly string[]) => Promise<boolean>): Promise<DrainCycle> {
  const kept = await keepAlive(w, url, CONNECTIONS);
  const load = steadyLoad(w, url);
  const t0 = Date.now();
  const marks: Record<string, number> = {};
  const mark = (what: string): void => {
    marks[what] = Date.now() - t0;
  };
  let record: KeptConnection[];
  let moved: number[] = [];
  let movedBack: number[];
  let late: Awaited<ReturnType<typeof keepAlive>> | undefined;
  const lb1Forwarded: number[] = [];
  try {
    const [lb1Flows, lb2Flows] = await Promise.all([flowPorts(w, 'lb1'), flowPorts(w, 'lb2')]);
    moved = kept.ports.filter((p) => lb1Flows.has(p) && !lb2Flows.has(p));
    assert.ok(moved.length > 0, `none of ${CONNECTIONS} long-lived connections went through lb1 alone (lb1: ${kept.ports.filter((p) => lb1Flows.has(p)).join()}, lb2: ${kept.ports.filter((p) => lb2Flows.has(p)).join()})`);

    mark('drain');
    assert.match(await w.lb1.vipgate(['drain']), /^draining since .* \(vipgate drain\)/);
    await eventually('the router kernel routes every VIP via lb2 only', () => kernelVia([LB2.v4]), 30_000, 50);
    mark('moved');
    // lb2 now carries lb1's long-lived connections: their packets arrive there mid-flow.
    await eventually('lb2 sees the connections lb1 had', async () => {
      const now = await flowPorts(w, 'lb2');
      return moved.every((p) => now.has(p));
    }, 10_000, 200);

    await eventually('lb1 drained', async () => (await drainState(w.lb1)) === 'drained', 40_000, 100);
    mark('drained');
    lb1Forwarded.push(await forwarded(w, 'lb1'));
    await w.lb1.stopAgent();
    await w.lb1.startAgent();
    mark('restarted');
    assert.equal(await drainState(w.lb1), 'drained');
    await eventually('lb1 Established again', async () => (await w.birdProtocols()).get('lb1v4') === 'Established', 15_000, 100);
    assert.ok(await kernelVia([LB2.v4]), 'the restarted, drained lb1 announced routes');
    // Connections that begin on lb2 alone: the undrain re-hashes about half of them onto lb1,
    // which has never seen them (lb1's table is kept across its restart, so compare with it now).
    late = await keepAlive(w, url, LATE_CONNECTIONS);
    const lb1Before = await flowPorts(w, 'lb1');
    const newOnLb1 = async (): Promise<number[]> => {
      const now = await flowPorts(w, 'lb1');
      return late!.ports.filter((p) => now.has(p) && !lb1Before.has(p));
    };
    lb1Forwarded.push(await forwarded(w, 'lb1'));

    mark('undrain');
    assert.match(await w.lb1.vipgate(['undrain']), /^not-drained since /);
    await eventually('ECMP again', () => kernelVia([LB1.v4, LB2.v4]), 30_000, 50);
    mark('ecmp');
    await eventually('lb1 forwards again', async () => (await forwarded(w, 'lb1')) > lb1Forwarded.at(-1)!, 10_000, 200);
    await eventually('lb1 carries connections that began on lb2', async () => (await newOnLb1()).length > 0, 10_000, 200);
    await new Promise((r) => setTimeout(r, 2000)); // requests after ECMP, on both nodes
    movedBack = await newOnLb1();
  } finally {
    record = [...(await kept.stop()), ...((await late?.stop()) ?? [])];
    await load.stop();
  }
  return { t0, marks, samples: load.samples, kept: record, moved, movedBack, lb1Forwarded };
}

function summary(label: string, c: DrainCycle): string {
  const keptOk = c.kept.reduce((n, k) => n + k.ok, 0);
  const failed = failures(c.samples, c.kept, c.t0);
  return (
    `# drain (${label}): ${c.samples.length} new connections, ${keptOk} requests on ${c.kept.length} long-lived connections ` +
    `(${c.moved.length} moved lb1 → lb2, ${c.movedBack.length} begun on lb2 moved to lb1); ` +
    `${failed.length} failed${failed.length === 0 ? '' : `: ${failed.slice(0, 8).join('; ')}`}; steps at ${JSON.stringify(c.marks)} ms`
  );
}

/** The two LB nodes on the XDP engine with `forwarding`, pods that decapsulate and hold the VIPs. */
function xdpDrainLab(forwarding: XdpForwarding, body: (lab: () => { w: BgpWalkthroughLab; url: string; kernelVia: (hops: readonly string[]) => Promise<boolean> }) => void): void {
  let w: BgpWalkthroughLab;
  let bpffs: PrivateBpffs;
  let vips: string[];
  let url: string;
  const kernelVia = async (hops: readonly string[]): Promise<boolean> => {
    const k4 = await w.routerKernelRoutes(4);
    return vips.every((p) => [...(k4.get(p) ?? [])].sort().join() === [...hops].sort().join());
  };

  before(async () => {
    bpffs = mountPrivateBpffs('vgtdrain-');
    w = await startBgpWalkthrough({ routerGracefulShutdown: true, config: (node) => config(node, forwarding, bpffs.dir) });
    await directReturnBackends(w.lab, { pods: Object.keys(DEMO.pods), vipCidrs: [DEMO.vipCidr.v4, DEMO.vipCidr.v6], dir: w.dir });
    const view: ServicesJson = await w.lb1.waitForServices((v) => v.services.length >= 4, 60_000);
    vips = [...new Set(view.services.filter((s) => !s.address.includes(':')).map((s) => `${s.address}/32`))].sort();
    const nginx2 = view.services.find((s) => s.service === 'default/nginx2');
    assert.ok(nginx2 !== undefined);
    url = `http://${nginx2.address}:${nginx2.port}/`;
    await eventually('every IPv4 VIP in the router kernel via both LB nodes', () => kernelVia([LB1.v4, LB2.v4]), 20_000);
    // Direct return: the pod sees the client's own address; nat: an LB node's.
    const seen = await w.lab.flowProbe('client', url, { durationMs: 500, concurrency: 2, timeoutMs: 2000 });
    const expected: readonly string[] = forwarding === 'nat' ? [LB1.v4, LB2.v4] : [DEMO.client.v4];
    assert.ok(seen.length > 0 && seen.every((s) => s.ok && expected.includes(s.via ?? '')), `not served as ${forwarding} serves: ${JSON.stringify(seen.slice(0, 3))}`);
  });
  after(async () => {
    try {
      await w.down();
    } finally {
      bpffs.unmount();
    }
  });
  body(() => ({ w, url, kernelVia }));
}

for (const forwarding of ['ipip', 'gue'] as const) {
  describe(`drain with no failed request: XDP ${forwarding} on both LB nodes, Maglev, direct return, ECMP`, { concurrency: false }, () => {
    xdpDrainLab(forwarding, (lab) => {
      test('(c) drain lb1 → BIRD moves to lb2 → drained; restart lb1 (still drained); undrain → ECMP — no failed request, moved connections live on', async () => {
        const { w, url, kernelVia } = lab();
        const c = await drainCycle(w, url, kernelVia);
        console.log(summary(`xdp ${forwarding}`, c));
        assert.deepEqual(failures(c.samples, c.kept, c.t0), [], 'failed requests');
        assert.ok(c.samples.some((s) => s.t - c.t0 > c.marks['ecmp']!), 'the load did not cover the steps');
        assert.ok(c.kept.every((k) => k.ok >= 20), `a long-lived connection answered few requests: ${c.kept.map((k) => k.ok).join()}`);
        assert.equal(c.lb1Forwarded[0], c.lb1Forwarded[1], 'lb1 forwarded packets while drained');
      });

      test('(d) rolling restart of lb1 then lb2, as a DaemonSet rollout does — no failed request', async () => {
        const { w, url, kernelVia } = lab();
        await eventually('ECMP before the rollout', () => kernelVia([LB1.v4, LB2.v4]), 30_000, 50);
        const kept = await keepAlive(w, url, CONNECTIONS);
        const load = steadyLoad(w, url);
        const t0 = Date.now();
        const marks: Record<string, number> = {};
        let record: KeptConnection[];
        try {
          for (const agent of [w.lb1, w.lb2]) {
            await agent.stopAgent();
            await agent.startAgent();
            await eventually(`${agent.host} Established again`, async () => (await w.birdProtocols()).get(`${agent.host}v4`) === 'Established', 30_000, 100);
            await eventually('ECMP again', () => kernelVia([LB1.v4, LB2.v4]), 30_000, 50);
            marks[agent.host] = Date.now() - t0;
          }
          await new Promise((r) => setTimeout(r, 1000));
        } finally {
          record = await kept.stop();
          await load.stop();
        }
        const keptOk = record.reduce((n, k) => n + k.ok, 0);
        console.log(`# rollout (xdp ${forwarding}): ${load.samples.length} new connections, ${keptOk} requests on ${record.length} long-lived connections; nodes back at ${JSON.stringify(marks)} ms`);
        assert.ok(load.samples.some((s) => s.t - t0 > (marks['lb2'] ?? Infinity)), 'the load did not cover the rollout');
        assert.deepEqual(failures(load.samples, record, t0), [], 'failed requests');
      });
    });
  });
}

// The control: the same lab and steps with XDP nat (SNAT to each LB node's own address). lb2 sends
// a moved flow to the same backend, but from its own address: a packet in mid-flow from an unknown
// source, which the backend answers with a reset. This is what the test above would see if Maglev
// or the flow hash differed between nodes, and what proves it can fail.
describe('drain, the control: XDP nat (SNAT) on both LB nodes — moved connections break', { concurrency: false }, () => {
  xdpDrainLab('nat', (lab) => {
    test('(c) with SNAT, the long-lived connections that move from lb1 to lb2 are reset', async () => {
      const { w, url, kernelVia } = lab();
      const c = await drainCycle(w, url, kernelVia);
      console.log(summary('xdp nat', c));
      const movedAny = [...c.moved, ...c.movedBack];
      const broken = c.kept.filter((k) => movedAny.includes(k.ports[0]!) && (k.failed.length > 0 || k.ports.length > 1));
      assert.equal(broken.length, movedAny.length, `moved long-lived connections that survived SNAT from another node: ${movedAny.length - broken.length} of ${movedAny.length}`);
    });
  });
});
