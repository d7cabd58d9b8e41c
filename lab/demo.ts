// `vipgate demo`: the original walk-through, for real, in a lab of network namespaces. Every
// line it prints comes from a command it ran just now (curl, vipgate, ip, nft): nothing canned.
import { dirname } from 'node:path';
import { startBird } from './bird.ts';
import { demoConfig, lbAgent, startWalkthrough, type ServicesJson, type WalkthroughLab } from './scenario.ts';
import { bgpDemoConfig, bgpWalkthroughOf, demoRouterBirdConfig, measureCableFailover } from './scenario-bgp.ts';
import { DEMO } from './topologies.ts';
import { buildBpfObject } from '../src/dataplane/xdp/build.ts';
import { bold, indent, say, step, walkThenFinish } from './demo-output.ts';
import { runL2Demo } from './demo-l2.ts';

function vipOf(view: ServicesJson, service: string, family: 4 | 6): { address: string; port: number } | undefined {
  const row = view.services.find((s) => s.service === service && s.address.includes(':') === (family === 6));
  return row === undefined ? undefined : { address: row.address, port: row.port };
}

function url(address: string, port: number): string {
  return address.includes(':') ? `http://[${address}]:${port}/` : `http://${address}:${port}/`;
}

async function walk(w: WalkthroughLab): Promise<boolean> {
  const { lab } = w;
  let ok = true;
  const check = (cond: boolean, what: string): void => {
    if (!cond) {
      ok = false;
      say(`   !! ${what}`);
    }
  };

  step(2, 'The LB node lb1 owns the VIP interface (created by the agent at start)');
  say(`   $ ip -br addr show dev cilium_ext   (in lb1)`);
  say(indent(await lab.exec('lb1', ['ip', '-br', 'addr', 'show', 'dev', 'cilium_ext'])));
  say(`   $ ip route show proto 86            (in lb1: the routes vipgate owns)`);
  say(indent(await lab.exec('lb1', ['ip', 'route', 'show', 'proto', '86'])));

  step(3, 'The service table: vipgate service list, and the agent\'s state: vipgate status (in lb1)');
  const view = await w.waitForServices((v) => v.services.length >= 4);
  say(indent(await w.vipgate(['service', 'list'])));
  const status = await w.vipgate(['status']);
  say('   $ vipgate status');
  say(indent(status));
  check(/^last pass: +ok /m.test(status), 'the agent\'s last pass did not succeed');
  const nginx = vipOf(view, 'default/nginx', 4);
  const nginx2 = vipOf(view, 'default/nginx2', 4);
  const web4 = vipOf(view, 'default/web', 4);
  const web6 = vipOf(view, 'default/web', 6);
  check(nginx?.address === '10.200.0.5', 'nginx is not on 10.200.0.5');
  check(nginx2 !== undefined && web4 !== undefined && web6 !== undefined, 'a LoadBalancer service got no VIP');

  step(4, 'Clients reach the VIPs through the router (static route, the seed\'s step 5)');
  say('   $ vipgate routes   (in lb1: what a client or router needs)');
  say(indent(await w.vipgate(['routes'])));
  say('   $ ip route show 10.200.0.0/16   (in router)');
  say(indent(await lab.exec('router', ['ip', 'route', 'show', DEMO.vipCidr.v4])));

  step(5, 'curl every VIP from the client; the pod that answered is named in its reply');
  for (const [name, vip] of [['nginx', nginx], ['nginx2', nginx2], ['web', web4], ['web', web6]] as const) {
    if (vip === undefined) continue;
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await lab.curl('client', url(vip.address, vip.port));
      answers.push(r.ok ? r.body.trim() : `FAILED (${r.error ?? r.status})`);
      check(r.ok, `curl ${url(vip.address, vip.port)} failed: ${r.error ?? r.status}`);
    }
    say(`   $ curl ${url(vip.address, vip.port).padEnd(28)} ${name.padEnd(7)} → ${answers.join(', ')}`);
  }

  step(6, 'A cluster node is not served external VIPs (CVE-2020-8554 guard)');
  if (nginx !== undefined) {
    const r = await lab.curl('node1', url(nginx.address, nginx.port), { timeoutMs: 2000 });
    say(`   $ curl ${url(nginx.address, nginx.port)}   (from node1, ${DEMO.nodes.node1.v4})`);
    say(`   → ${r.ok ? `ANSWERED by ${r.body.trim()} (should have been refused)` : `not served: ${r.error ?? `HTTP ${r.status}`}`}`);
    check(!r.ok, 'node1 was served');
  }

  step(7, 'Remove a backend of nginx2 under load: traffic moves, no request fails');
  if (nginx2 !== undefined) {
    const target = url(nginx2.address, nginx2.port);
    const loop = lab.requestLoop('client', target, { count: 6000, concurrency: 4, maxMs: 90_000 });
    await new Promise((r) => setTimeout(r, 700));
    say(`   editing ${w.configPath}: nginx2 backends ${DEMO.pods.pod1b.v4}, ${DEMO.pods.pod2a.v4} → ${DEMO.pods.pod2a.v4}`);
    await w.writeConfig(demoConfig({ nginx2Backends: [DEMO.pods.pod2a.v4] }));
    await w.waitForServices((v) => v.services.find((s) => s.service === 'default/nginx2')?.backends.length === 1);
    const during = await loop;
    const after = await lab.requestLoop('client', target, { count: 40, concurrency: 4, maxMs: 30_000 });
    say(`   during the change: ${during.outcomes.length} requests, ${during.failed} failed, answered by ${[...during.backends].sort().join(', ')}`);
    say(`   after the change:  ${after.outcomes.length} requests, ${after.failed} failed, answered by ${[...after.backends].sort().join(', ')}`);
    check(during.failed === 0 && after.failed === 0, 'a request failed');
    check(after.backends.size === 1 && after.backends.has('pod2a'), 'traffic did not move to pod2a only');
    say(indent(await w.vipgate(['service', 'list'])));
  }

  step(8, 'The kernel state: one nftables table owned by vipgate (in lb1)');
  const listing = await lab.exec('lb1', ['nft', 'list', 'map', 'inet', 'vipgate', 'frontends4']).catch((e: unknown) => `(${(e as Error).message})`);
  say(indent(listing));
  return (await walkBgp(w, view)) && ok;
}

const HOLD_SECONDS = 3;

/** Steps 9–12: BGP replaces the static route; two LB nodes; one drops off, traffic goes on. */
async function walkBgp(w: WalkthroughLab, view: ServicesJson): Promise<boolean> {
  const { lab } = w;
  let ok = true;
  const check = (cond: boolean, what: string): void => {
    if (!cond) {
      ok = false;
      say(`   !! ${what}`);
    }
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const dir = dirname(w.configPath);
  // The services as they are now (step 7 left nginx2 with pod2a only), the same on both nodes.
  const nginx2Backends = [DEMO.pods.pod2a.v4];

  step(9, 'BGP replaces the static route: BIRD in the router (AS 65001), lb1 (nftables) and lb2 (XDP) announce the VIPs (AS 65002)');
  const bird = await startBird(lab, 'router', demoRouterBirdConfig(), dir);
  say(`   bird -c ${bird.configPath}   (in router: merge paths → ECMP; fib_multipath_hash_policy=1)`);
  // lb2 serves with the XDP engine: the same services through a Maglev table in the driver hook.
  const object = buildBpfObject();
  say(`   clang -O2 -target bpf … → ${object}`);
  const lb2 = await lbAgent(lab, 'lb2', dir, bgpDemoConfig('lb2', { nginx2Backends, xdp: { snatAddresses: [DEMO.lbNode2.v4, DEMO.lbNode2.v6] } }));
  await lb2.startAgent();
  say(`   lb2: bin/vipgate agent --config ${lb2.configPath}   (same services and pools, its own bgp: section, dataplane.engine: xdp)`);
  say('   $ ip -d link show dc   (in lb2: the XDP program on its port)');
  const xdpLines = (await lab.exec('lb2', ['ip', '-d', 'link', 'show', 'dc'])).split('\n').filter((l) => /xdp/.test(l)).map((l) => l.trim());
  say(indent(xdpLines.join('\n') || '(no xdp line)'));
  check(xdpLines.some((l) => /prog\/xdp id \d+/.test(l)), 'lb2 has no XDP program on its dc port');
  // A hot reload that adds the bgp: section switches lb1 from static routes to BGP: no restart.
  const lb1Pid = w.agent.pid;
  await w.writeConfig(bgpDemoConfig('lb1', { nginx2Backends }));
  say(`   lb1: bgp: section added to ${w.configPath}; the agent switches from static routes to BGP on the reload (no restart)`);
  const b = bgpWalkthroughOf({ lab, dir, bird, lb1: w, lb2 }, () => w.down());
  const vips = [...new Set(view.services.map((s) => (s.address.includes(':') ? `${s.address}/128` : `${s.address}/32`)))];
  const ecmp = async (): Promise<boolean> => {
    const [k4, k6] = await Promise.all([b.routerKernelRoutes(4), b.routerKernelRoutes(6)]);
    return vips.every((p) => ((p.includes(':') ? k6 : k4).get(p) ?? []).length === 2);
  };
  for (let i = 0; i < 100 && !(await ecmp()); i++) await sleep(100);
  say('   $ birdc show protocols');
  say(indent(await bird.birdc(['show', 'protocols'])));
  say('   $ vipgate bgp peers   (in lb1)');
  say(indent(await w.vipgate(['bgp', 'peers'])));
  check(w.agent.pid === lb1Pid, 'lb1\'s agent was restarted to switch to BGP');
  say('   $ vipgate bgp routes   (in lb1: what each router was told, with its attributes)');
  say(indent(await w.vipgate(['bgp', 'routes'])));
  say(`   $ ip route del ${DEMO.vipCidr.v4}; ip route del ${DEMO.vipCidr.v6}   (in router: the static routes go)`);
  await lab.exec('router', ['ip', 'route', 'del', DEMO.vipCidr.v4]);
  await lab.exec('router', ['ip', '-6', 'route', 'del', DEMO.vipCidr.v6]);
  say('   $ birdc show route');
  say(indent(await bird.birdc(['show', 'route'])));
  say('   $ ip route; ip -6 route show proto bird   (in router: one route per VIP, two next hops)');
  say(indent(await lab.exec('router', ['ip', 'route'])));
  say(indent(await lab.exec('router', ['ip', '-6', 'route', 'show', 'proto', 'bird'])));
  check(await ecmp(), 'not every VIP has two next hops in the router');

  step(10, 'curl through each VIP: no static route anywhere; flows spread over lb1 and lb2 (the source the pod saw)');
  const lbName = (via: string | null | undefined): string => (via === DEMO.lbNode.v4 || via === DEMO.lbNode.v6 ? 'lb1' : via === DEMO.lbNode2.v4 || via === DEMO.lbNode2.v6 ? 'lb2' : String(via));
  for (const s of view.services) {
    const target = url(s.address, s.port);
    const samples = await lab.flowProbe('client', target, { durationMs: 600, concurrency: 2 });
    const byLb = new Map<string, number>();
    for (const x of samples) if (x.ok) byLb.set(lbName(x.via), (byLb.get(lbName(x.via)) ?? 0) + 1);
    const failed = samples.filter((x) => !x.ok).length;
    say(`   $ curl ${target.padEnd(28)} ${samples.length} requests, ${failed} failed; via ${[...byLb].sort().map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    check(samples.length > 0 && failed === 0, `requests to ${target} failed`);
  }

  say('   $ vipgate service list   (in lb2: packets its XDP program forwarded, per frontend)');
  const lb2View = await lb2.vipgate(['service', 'list']);
  say(indent(lb2View));
  const lb2Packets = (JSON.parse(await lb2.vipgate(['service', 'list', '-o', 'json'])) as { services: { packets: string }[] }).services.reduce((n, r) => n + Number(r.packets), 0);
  check(lb2Packets > 0, 'the XDP program on lb2 counted no packet');

  step(11, `lb1 drops off the network (its cable out: router port down); hold time ${HOLD_SECONDS} s`);
  const nginx = view.services.find((s) => s.service === 'default/nginx' && !s.address.includes(':'));
  if (nginx !== undefined) {
    const target = url(nginx.address, nginx.port);
    const f = await measureCableFailover(b, { node: 'lb1', url: target, prefix: `${nginx.address}/32`, holdSeconds: HOLD_SECONDS });
    say(`   requests to ${target} from the client, 4 at a time, each on a new connection:`);
    say(`   route via lb1 gone from the router kernel after ${f.routeGoneMs ?? 'never'} ms (BIRD's hold timer)`);
    say(`   traffic through lb2 only after ${f.gap.gapMs ?? 'never'} ms; ${f.gap.bad} of ${f.gap.total} requests after the cut lost`);
    check(f.gap.gapMs !== undefined && f.gap.gapMs < (HOLD_SECONDS + 2) * 1000, 'failover took longer than hold time + 2 s');
  }

  step(12, 'lb1 back: sessions re-established, ECMP again');
  let back = false;
  for (let i = 0; i < 150 && !back; i++) {
    back = await ecmp();
    if (!back) await sleep(100);
  }
  say(`   $ ip route show ${DEMO.vipCidr.v4}   (in router)`);
  say(indent(await lab.exec('router', ['ip', 'route', 'show', 'root', DEMO.vipCidr.v4])));
  check(back, 'lb1 did not come back into ECMP');
  await lb2.stopAgent();
  return ok;
}

export async function runDemo(options: { keep: boolean; l2?: boolean }): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('vipgate demo: needs root (it builds network namespaces); run it as root, e.g. `sudo make demo`\n');
    return 2;
  }
  if (options.l2 === true) return runL2Demo(options);
  say(bold('vipgate demo — the original walk-through, in network namespaces'));
  step(1, 'Build the lab: client, router, lb1 (LB node), node1 + node2 (cluster nodes) with pods; start the agent in lb1');
  const started = Date.now();
  // lb2 waits, unused, until the BGP part (step 9); the router's static route points at lb1.
  const w = await startWalkthrough({ topology: { lbNodes: 2 } });
  const removeHandlers = w.lab.removeOnSignals();
  say(`   lab ${w.lab.prefix}: namespaces ${w.lab.plan.namespaces.join(' ')}`);
  say(`   agent: bin/vipgate agent --config ${w.configPath}   (log: ${w.agentLog})`);
  say(`   ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const explore = [`ip netns exec ${w.lab.ns('lb1')} bin/vipgate service list`, `ip netns exec ${w.lab.ns('client')} curl http://10.200.0.5/`];
  return walkThenFinish({ keep: options.keep, prefix: w.lab.prefix, explore, removeHandlers, down: () => w.down() }, () => walk(w));
}
