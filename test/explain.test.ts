// `vipgate explain` against real agents: one BGP lab (BIRD, lb1 and lb2), each link broken on
// purpose in turn — a VIP served, an external IP no pool allows, an address in no pool, no ready
// backend, an element deleted from the kernel by hand, the BGP session disabled at the router,
// the prefix filtered by the node's export policy, the node drained — and explain names that
// link and its fix.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ExplainReport } from '../src/cli/format-explain.ts';
import { bgpDemoConfig, startBgpWalkthrough, type BgpWalkthroughLab } from '../lab/scenario-bgp.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import { DEMO } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';

const POD = DEMO.pods.pod1a.v4;
/** Broken on purpose; the demo's own services stay healthy. */
const EXTRA = `  - name: outside
    type: ClusterIP
    externalIPs: [10.201.0.5]
    ports: [{ name: http, port: 80 }]
    backends:
      - { address: ${POD} }
  - name: nopool
    type: LoadBalancer
    loadBalancerIPs: [10.201.0.7]
    ports: [{ name: http, port: 80 }]
    backends:
      - { address: ${POD} }
  - name: idle
    type: ClusterIP
    externalIPs: [10.200.0.6]
    ports: [{ name: http, port: 80 }]
    backends:
      - { address: ${POD}, state: terminating }
`;

interface Run {
  readonly exit: number;
  readonly out: string;
}

describe('vipgate explain: each link broken on purpose in a BGP lab', { concurrency: false }, () => {
  let w: BgpWalkthroughLab;

  /** `vipgate explain` in lb1 (the API on its loopback), with its exit status. */
  const explain = async (target: string, json = true, more: readonly string[] = []): Promise<Run> => {
    const args = ['explain', target, '--sample', '300', ...(json ? ['-o', 'json'] : []), ...more].map((a) => `'${a}'`).join(' ');
    const text = await w.lab.exec('lb1', ['sh', '-c', `${VIPGATE_BIN} ${args}; echo "exit $?"`], { timeoutMs: 20_000 });
    const at = text.lastIndexOf('exit ');
    return { exit: Number(text.slice(at + 5).trim()), out: text.slice(0, at) };
  };
  const report = async (target: string): Promise<ExplainReport> => JSON.parse((await explain(target)).out) as ExplainReport;
  /** The first broken link of lb1's answer. */
  const broken = async (target: string): Promise<{ link: string; says: string; fix: string }> => {
    const r = await report(target);
    const l = r.answers[0]?.explanation?.links.find((x) => x.state === 'broken');
    assert.ok(l !== undefined, `a broken link for ${target}: ${JSON.stringify(r)}`);
    return { link: l.link, says: l.says, fix: l.fix ?? '' };
  };

  before(async () => {
    // A read-back every hour: a hand-made change stays until the test has looked at it.
    w = await startBgpWalkthrough({ config: (node) => bgpDemoConfig(node, { resyncSeconds: 3600, extraServices: EXTRA }), startAgents: false });
    // lb2's API on its lab address too, so that lb1 can ask both (the join of several agents).
    await Promise.all([w.lb1.startAgent(), w.lb2.startAgent(['--api-listen', '0.0.0.0:9470'])]);
    await eventually('lb1 tells the router 10.200.0.5', async () => (await report('10.200.0.5:80')).served, 30_000, 250);
  });
  after(async () => {
    await w.down();
  });

  test('a served VIP: one line, exit 0; the JSON has every link with the kernel read back', async () => {
    const run = await explain('10.200.0.5:80', false);
    assert.equal(run.exit, 0);
    assert.equal(run.out.trimEnd().split('\n').length, 1, run.out);
    assert.match(run.out.trimEnd(), /^10\.200\.0\.5:80 is served by lb1 \(default\/nginx; 10\.200\.0\.5:80\/tcp: 1 ready, 0 terminating; BGP: 10\.180\.1\.1 was sent 10\.200\.0\.5\/32 \(next hop 10\.180\.1\.16\)\)$/);
    assert.doesNotMatch(run.out, /fd00/, 'the IPv6 session is not asked about an IPv4 VIP');
    const links = (await report('default/nginx')).answers[0]!.explanation!.links;
    assert.match(links.find((l) => l.link === 'dataplane')!.says, /read back from the kernel: 10\.200\.0\.5:80\/tcp: element 10\.200\.0\.5 \. tcp \. 80 in inet vipgate frontends4, 1 backend$/);
  });

  test('policy: an external IP no pool allows', async () => {
    const b = await broken('default/outside');
    assert.equal(b.link, 'policy');
    assert.match(b.says, /10\.201\.0\.5/);
    assert.match(b.fix, /allowExternalIPs: true/);
    assert.equal((await explain('default/outside')).exit, 1);
  });

  test('allocation: an address in no pool', async () => {
    const b = await broken('default/nopool');
    assert.equal(b.link, 'allocation');
    assert.match(b.says, /10\.201\.0\.7/);
    assert.match(b.fix, /add addresses to a pool/);
  });

  test('backends: only a terminating backend', async () => {
    const b = await broken('10.200.0.6');
    assert.equal(b.link, 'backends');
    assert.match(b.says, /10\.200\.0\.6:80\/tcp: 0 ready, 1 terminating/);
  });

  test('dataplane: the frontend element deleted from the kernel by hand', async () => {
    const web = (await report('default/web')).answers[0]!.explanation!.frontends.find((f) => !f.startsWith('['));
    assert.ok(web !== undefined, 'web has an IPv4 frontend');
    const [address, rest] = web.split(':') as [string, string];
    const port = rest.split('/')[0]!;
    assert.equal((await report(`${address}:${port}`)).served, true, 'served before the element goes');
    await w.lab.exec('lb1', ['nft', 'delete', 'element', 'inet', 'vipgate', 'frontends4', `{ ${address} . tcp . ${port} }`]);
    const b = await broken(`${address}:${port}`);
    assert.equal(b.link, 'dataplane');
    assert.equal(b.says, `the kernel differs from the table: ${web}: no element ${address} . tcp . ${port} in inet vipgate frontends4`);
    assert.match(b.fix, /resyncSeconds/);
  });

  test('announcement: the BGP session disabled at the router', async () => {
    await w.bird.birdc(['disable', 'lb1v4']);
    try {
      const b = await eventually('explain sees the session down', async () => {
        const x = await broken('10.200.0.5:80');
        return x.link === 'announcement' ? x : undefined;
      }, 15_000, 250);
      assert.match(b.says, /no BGP session is Established, so no router was told: 10\.180\.1\.1 (Idle|Active|Connect)/);
      assert.match(b.fix, /birdc show protocols/);
    } finally {
      await w.bird.birdc(['enable', 'lb1v4']);
    }
    await eventually('served again once the session is back', async () => (await report('10.200.0.5:80')).served, 30_000, 250);
  });

  test('announcement: the prefix filtered by the node\'s export policy (only the v6 pool advertised)', async () => {
    const config = (advertisements?: readonly Record<string, unknown>[]): string =>
      bgpDemoConfig('lb1', { resyncSeconds: 3600, extraServices: EXTRA, ...(advertisements === undefined ? {} : { advertisements }) });
    await w.lb1.writeConfig(config([{ pools: ['v6'] }]));
    try {
      const b = await eventually('explain sees 10.200.0.5 not sent', async () => {
        const x = await broken('10.200.0.5:80');
        return x.link === 'announcement' ? x : undefined;
      }, 15_000, 250);
      assert.equal(b.says, 'no router was sent 10.200.0.5: 10.180.1.1 (Established)');
      assert.match(b.fix, /bgp\.advertisements/);
    } finally {
      await w.lb1.writeConfig(config());
    }
    await eventually('served again with every VIP advertised', async () => (await report('10.200.0.5:80')).served, 15_000, 250);
  });

  test('node: drained by vipgate drain', async () => {
    await w.lb1.vipgate(['drain']);
    const b = await broken('10.200.0.5:80');
    assert.equal(b.link, 'node');
    assert.match(b.says, /^lb1 is (draining|drained) since .* \(vipgate drain\)/);
    assert.match(b.fix, /vipgate undrain/);
    const text = await explain('10.200.0.5:80', false);
    assert.equal(text.exit, 1);
    assert.match(text.out, /^10\.200\.0\.5:80 is not served by lb1: node: lb1 is/);
    assert.match(text.out, /^ {2}fix: if lb1 should serve again: vipgate undrain/m);
    assert.match(text.out, /^ {2}BROKEN {2}node/m);

    // Asked together, lb1 and lb2: the VIP is reachable (lb2 serves it), and lb1's link is named.
    const both = await explain('10.200.0.5:80', false, ['--api', `http://127.0.0.1:9470,http://${DEMO.lbNode2.v4}:9470`]);
    assert.equal(both.exit, 0, both.out);
    assert.match(both.out, /^10\.200\.0\.5:80 is not served by lb1 \(served by lb2\): node: lb1 is/);
    assert.match(both.out, new RegExp(`^lb2 \\(http://${DEMO.lbNode2.v4.replaceAll('.', '\\.')}:9470\\):$`, 'm'));
  });
});
