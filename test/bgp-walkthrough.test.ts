// The walk-through with BGP: two LB nodes announce the VIPs to BIRD in the router, which installs
// them with two next hops (ECMP); the client reaches every VIP with no static route anywhere. Then
// what operators live through: a service losing its last backend, an agent crash and restart
// (graceful restart), taking a node out (--cleanup), a node dropping off the network (hold timer), a
// password-protected session.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bgpDemoConfig, measureCableFailover, routerPortTowards, startBgpWalkthrough, type BgpWalkthroughLab } from '../lab/scenario-bgp.ts';
import { VIPGATE_BIN, type LbAgent, type ServicesJson } from '../lab/scenario.ts';
import { DEMO } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';

const PASSWORD = 'vipgate-md5-s3cret';
const HOLD_SECONDS = 3;
const LB1 = DEMO.lbNode;
const LB2 = DEMO.lbNode2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** nginx's only backend, as the demo config writes it; the tests make it terminating. */
const NGINX_BACKEND = `externalIPs: [10.200.0.5]
    ports: [{ name: http, port: 80, targetPort: 80 }]
    backends:
      - { address: ${DEMO.pods.pod1a.v4} }`;

function config(node: 'lb1' | 'lb2', options: { nginxReady?: boolean; password?: string } = {}): string {
  const password = options.password ?? (node === 'lb1' ? PASSWORD : undefined);
  const text = bgpDemoConfig(node, { resyncSeconds: 1, holdTimeSeconds: HOLD_SECONDS, ...(password === undefined ? {} : { password }) });
  assert.ok(text.includes(NGINX_BACKEND), 'the demo config changed shape: update NGINX_BACKEND');
  return options.nginxReady === false ? text.replace(NGINX_BACKEND, `${NGINX_BACKEND.slice(0, -2)}, state: terminating }`) : text;
}

interface PeersJson {
  readonly peers: readonly { address: string; state: string; prefixesSent: number; lastError?: string }[];
}

const vipUrl = (address: string, port: number): string => (address.includes(':') ? `http://[${address}]:${port}/` : `http://${address}:${port}/`);
const hostPrefix = (address: string): string => `${address}/${address.includes(':') ? 128 : 32}`;

describe('BGP walk-through: two LB nodes, BIRD in the router, no static route', { concurrency: false }, () => {
  let w: BgpWalkthroughLab;
  let view: ServicesJson;
  let vips: string[];

  /** Every VIP in the router's kernel with exactly these next hops (v4 and v6 by family). */
  const kernelHas = async (prefixes: readonly string[], hops: { v4: readonly string[]; v6: readonly string[] }): Promise<boolean> => {
    const [k4, k6] = await Promise.all([w.routerKernelRoutes(4), w.routerKernelRoutes(6)]);
    return prefixes.every((p) => {
      const want = p.includes(':') ? hops.v6 : hops.v4;
      const got = (p.includes(':') ? k6 : k4).get(p) ?? [];
      return [...got].sort().join() === [...want].sort().join();
    });
  };
  const bothLbs = { v4: [LB1.v4, LB2.v4], v6: [LB1.v6, LB2.v6] };
  const established = async (agent: LbAgent): Promise<boolean> => {
    const peers = (JSON.parse(await agent.vipgate(['bgp', 'peers', '-o', 'json'])) as PeersJson).peers;
    return peers.length === 2 && peers.every((p) => p.state === 'Established');
  };

  before(async () => {
    w = await startBgpWalkthrough({ lb1Password: PASSWORD, config: (node) => config(node) });
    view = await w.lb1.waitForServices((v) => v.services.length >= 4);
    vips = [...new Set(view.services.map((s) => hostPrefix(s.address)))].sort();
    await eventually('every VIP in the router kernel via both LB nodes', () => kernelHas(vips, bothLbs), 20_000);
  });
  after(async () => {
    await w.down();
  });

  test('both LB nodes hold Established sessions (v4 and v6) with the router, seen from both ends', async () => {
    for (const agent of [w.lb1, w.lb2]) {
      const peers = (JSON.parse(await agent.vipgate(['bgp', 'peers', '-o', 'json'])) as PeersJson).peers;
      assert.deepEqual(
        peers.map((p) => [p.address, p.state]).sort(),
        [[DEMO.router.datacenter.v4, 'Established'], [DEMO.router.datacenter.v6, 'Established']],
        `${agent.host}: ${JSON.stringify(peers)}`,
      );
      assert.ok(peers.every((p) => p.prefixesSent > 0), `${agent.host} announced nothing: ${JSON.stringify(peers)}`);
    }
    const protocols = await w.birdProtocols();
    assert.deepEqual(Object.fromEntries(protocols), { lb1v4: 'Established', lb1v6: 'Established', lb2v4: 'Established', lb2v6: 'Established' });
  });

  test('both nodes assign the same VIPs from the same config', async () => {
    const other = await w.lb2.waitForServices((v) => v.services.length === view.services.length);
    const rows = (v: ServicesJson): string[] => v.services.map((s) => `${s.service} ${s.address}:${s.port}`).sort();
    assert.deepEqual(rows(other), rows(view));
    assert.ok(vips.includes('10.200.0.5/32') && vips.some((p) => p.includes(':')), `VIPs: ${vips.join(', ')}`);
  });

  test('every VIP is in BIRD and in the router kernel with two next hops; the router has no static route', async () => {
    const bird = await w.birdRoutes();
    for (const vip of vips) {
      const want = vip.includes(':') ? bothLbs.v6 : bothLbs.v4;
      assert.deepEqual([...(bird.get(vip) ?? [])].sort(), [...want].sort(), `BIRD's routes for ${vip}`);
    }
    assert.ok(await kernelHas(vips, bothLbs), 'kernel routes are not two-nexthop');
    for (const family of ['-4', '-6']) {
      assert.equal((await w.lab.exec('router', ['ip', family, 'route', 'show', 'proto', 'static'])).trim(), '', `static ${family} routes in the router`);
    }
    // Nothing but BIRD's routes leads to a VIP: no covering route, no default.
    for (const vip of vips) {
      const address = vip.slice(0, vip.indexOf('/'));
      const matching = await w.lab.exec('router', ['ip', address.includes(':') ? '-6' : '-4', 'route', 'show', 'match', address]);
      const heads = matching.split('\n').filter((l) => /^\S/.test(l));
      assert.ok(heads.length > 0 && heads.every((l) => l.includes('proto bird')), `routes matching ${address}:\n${matching}`);
    }
  });

  test('the client reaches every VIP (IPv6 over MP-BGP too), and flows spread over both LB nodes', async () => {
    for (const s of view.services) {
      const r = await w.lab.curl('client', vipUrl(s.address, s.port));
      assert.ok(r.ok, `${s.service} at ${s.address}:${s.port}: ${r.error ?? r.status}`);
    }
    const nginx2 = view.services.find((s) => s.service === 'default/nginx2')!;
    const samples = await w.lab.flowProbe('client', vipUrl(nginx2.address, nginx2.port), { durationMs: 1500, concurrency: 4 });
    assert.ok(samples.length >= 20 && samples.every((s) => s.ok), `${samples.filter((s) => !s.ok).length} of ${samples.length} failed`);
    assert.deepEqual([...new Set(samples.map((s) => s.via))].sort(), [LB1.v4, LB2.v4], 'the LB nodes that carried requests (the source the pods saw)');
  });

  test('a Service losing its last ready backend on both nodes is withdrawn; the others stay', async () => {
    await Promise.all([w.lb1.writeConfig(config('lb1', { nginxReady: false })), w.lb2.writeConfig(config('lb2', { nginxReady: false }))]);
    const others = vips.filter((p) => p !== '10.200.0.5/32');
    await eventually('10.200.0.5 gone from the router kernel', async () => !(await w.routerKernelRoutes(4)).has('10.200.0.5/32'), 10_000);
    assert.ok(await kernelHas(others, bothLbs), 'another VIP lost its route');
    assert.equal((await w.birdRoutes()).has('10.200.0.5/32'), false, 'BIRD still has 10.200.0.5');
    await Promise.all([w.lb1.writeConfig(config('lb1')), w.lb2.writeConfig(config('lb2'))]);
    await eventually('10.200.0.5 back via both nodes', () => kernelHas(['10.200.0.5/32'], bothLbs), 10_000);
  });

  test('graceful restart: lb1 crashes (SIGKILL) and restarts; BIRD keeps its routes throughout', async () => {
    await w.lb1.signalAgent('SIGKILL');
    const started = Date.now();
    let checks = 0;
    const missing: string[] = [];
    const watch = (async () => {
      while (!(await established(w.lb1).catch(() => false)) || checks < 5) {
        const bird = await w.birdRoutes();
        for (const vip of vips) if (!(bird.get(vip) ?? []).some((hop) => hop === LB1.v4 || hop === LB1.v6)) missing.push(`${vip} at +${Date.now() - started} ms`);
        checks += 1;
        await sleep(100);
        if (Date.now() - started > 30_000) throw new Error('lb1 did not come back within 30 s');
      }
    })();
    await sleep(500);
    assert.match(await w.bird.birdc(['show', 'protocols', 'all', 'lb1v4']), /Neighbor graceful restart active/);
    await w.lb1.startAgent();
    await watch;
    assert.deepEqual(missing, [], `lb1's routes left BIRD during the restart (${checks} checks)`);
    assert.ok(checks >= 5);
    await eventually('ECMP after the restart', () => kernelHas(vips, bothLbs));
  });

  test('taking lb2 out: SIGTERM is a restart (routes kept); `vipgate agent --cleanup` then withdraws them at once; lb1 keeps serving', async () => {
    await w.lb2.stopAgent();
    assert.match(await w.bird.birdc(['show', 'protocols', 'all', 'lb2v4']), /Neighbor graceful restart active/);
    assert.ok(await kernelHas(vips, bothLbs), 'a SIGTERM is a restart: the router keeps lb2\'s routes');
    const cleanup = Date.now();
    // Longer than vipgate()'s 20 s: the command starts a whole agent (settings, dataplane) first.
    await w.lab.exec('lb2', [VIPGATE_BIN, 'agent', '--config', w.lb2.configPath, '--state-file', w.lb2.statePath, '--cleanup'], { timeoutMs: 60_000 });
    const goneMs = await eventually('lb2 routes gone', async () => ((await kernelHas(vips, { v4: [LB1.v4], v6: [LB1.v6] })) ? Date.now() - cleanup : undefined), 15_000, 20);
    // Well under the 60 s restart time: --cleanup's session made BIRD drop them (R=1, F=0, then a Cease).
    assert.ok(goneMs < 12_000, `withdrawn after ${goneMs} ms`);
    assert.ok((await w.lab.curl('client', 'http://10.200.0.5/')).ok);
    await w.lb2.startAgent();
    await eventually('ECMP with lb2 back', () => kernelHas(vips, bothLbs), 15_000);
  });

  test('the bgp section removed from lb1\'s config: its sessions close, routers drop lb1 at once; added back: ECMP again — no restart', async () => {
    const pid = w.lb1.agent.pid;
    // The same config without its bgp section: lb1 keeps serving (through a static route, if anyone had one).
    const staticOnly = config('lb1').replace(/^bgp:\n(?: .*\n)*/m, '');
    assert.doesNotMatch(staticOnly, /^bgp:/m, 'the bgp section was not cut out');
    await w.lb1.writeConfig(staticOnly);
    await eventually('lb1\'s routes withdrawn', () => kernelHas(vips, { v4: [LB2.v4], v6: [LB2.v6] }), 10_000, 50);
    assert.match(await w.bird.birdc(['show', 'protocols', 'all', 'lb1v4']), /Received: Administrative shutdown|Cease/i);
    const status = JSON.parse(await w.lb1.vipgate(['status', '-o', 'json'])) as { announcer: string };
    assert.equal(status.announcer, 'static');
    await assert.rejects(w.lb1.vipgate(['bgp', 'peers']), /does not use BGP/);
    await w.lb1.writeConfig(config('lb1'));
    await eventually('lb1 Established again', () => established(w.lb1), 15_000, 200);
    await eventually('ECMP again', () => kernelHas(vips, bothLbs), 15_000);
    assert.equal(w.lb1.agent.pid, pid, 'the agent was restarted');
  });

  test(`lb1 drops off the network: traffic flows through lb2 only within hold time + 2 s; back → ECMP`, async () => {
    const nginx2 = view.services.find((s) => s.service === 'default/nginx2')!;
    assert.match(await w.lab.exec('router', ['ip', '-br', 'link', 'show', 'master', 'dc']), new RegExp(`^${routerPortTowards('lb1')}@`, 'm'));
    const { samples, cutAt: cut, gap, routeGoneMs } = await measureCableFailover(w, {
      node: 'lb1',
      url: vipUrl(nginx2.address, nginx2.port),
      prefix: hostPrefix(nginx2.address),
      holdSeconds: HOLD_SECONDS,
    });
    assert.ok(routeGoneMs !== undefined, 'the route via lb1 never left the router kernel');
    const before = samples.filter((s) => s.t < cut);
    assert.ok(before.length > 0 && before.every((s) => s.ok), 'requests failed before the cut');
    console.log(`# failover: ${gap.bad} of ${gap.total} requests lost; traffic through lb2 only after ${gap.gapMs ?? 'never'} ms; route gone after ${routeGoneMs} ms (hold ${HOLD_SECONDS} s)`);
    assert.ok(gap.gapMs !== undefined, 'traffic never settled on lb2');
    assert.ok(gap.gapMs < (HOLD_SECONDS + 2) * 1000, `failover took ${gap.gapMs} ms`);
    assert.ok(gap.bad > 0, 'no request was lost: the cut did not bite');

    await eventually('lb1 back: ECMP again', () => kernelHas(vips, bothLbs), 20_000, 200);
    const again = await w.lab.flowProbe('client', vipUrl(nginx2.address, nginx2.port), { durationMs: 1000, concurrency: 4 });
    assert.ok(again.every((s) => s.ok), 'requests failed after lb1 came back');
    assert.deepEqual([...new Set(again.map((s) => s.via))].sort(), [LB1.v4, LB2.v4]);
  });

  test('the lb1 session needs its TCP MD5 password: a wrong one gets no session, the right one does', async () => {
    assert.match(await w.bird.birdc(['show', 'protocols', 'all', 'lb1v4']), /BGP state:\s+Established/);
    await w.lb1.writeConfig(config('lb1', { password: 'not-the-password' }));
    await eventually('lb1 routes withdrawn', () => kernelHas(vips, { v4: [LB2.v4], v6: [LB2.v6] }), 10_000);
    // Long enough for several connect attempts: the kernel drops every mis-signed SYN.
    await sleep(2500);
    assert.deepEqual([(await w.birdProtocols()).get('lb1v4'), (await w.birdProtocols()).get('lb2v4')].map((s) => s === 'Established'), [false, true]);
    await w.lb1.writeConfig(config('lb1'));
    await eventually('lb1 Established again with the right password', () => established(w.lb1), 15_000, 200);
    await eventually('ECMP again', () => kernelHas(vips, bothLbs));
  });
});
