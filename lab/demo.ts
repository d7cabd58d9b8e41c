// `vipgate demo`: the original walk-through, for real, in a lab of network namespaces. Every
// line it prints comes from a command it ran just now (curl, vipgate, ip, nft): nothing canned.
import { DEMO } from './topologies.ts';
import { demoConfig, startWalkthrough, type ServicesJson, type WalkthroughLab } from './scenario.ts';

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};
const step = (n: number, title: string): void => {
  say();
  say(bold(`── ${n}. ${title}`));
};
const indent = (text: string): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');

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

  step(3, 'The service table: vipgate service list (in lb1)');
  const view = await w.waitForServices((v) => v.services.length >= 4);
  say(indent(await w.vipgate(['service', 'list'])));
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
  return ok;
}

export async function runDemo(options: { keep: boolean }): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('vipgate demo: needs root (it builds network namespaces); run it as root, e.g. `sudo make demo`\n');
    return 2;
  }
  say(bold('vipgate demo — the original walk-through, in network namespaces'));
  step(1, 'Build the lab: client, router, lb1 (LB node), node1 + node2 (cluster nodes) with pods; start the agent in lb1');
  const started = Date.now();
  const w = await startWalkthrough();
  const removeHandlers = w.lab.removeOnSignals();
  say(`   lab ${w.lab.prefix}: namespaces ${w.lab.plan.namespaces.join(' ')}`);
  say(`   agent: bin/vipgate agent --config ${w.configPath}   (log: ${w.agentLog})`);
  say(`   ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  let ok: boolean;
  try {
    ok = await walk(w);
  } finally {
    removeHandlers();
    say();
    if (options.keep) {
      say(bold(`── The lab stays up (--keep). Explore, e.g.:`));
      say(`   ip netns exec ${w.lab.ns('lb1')} bin/vipgate service list`);
      say(`   ip netns exec ${w.lab.ns('client')} curl http://10.200.0.5/`);
      say(`   bin/vipgate lab down ${w.lab.prefix}     # removes it`);
    } else {
      await w.down();
      say(bold(`── Lab ${w.lab.prefix} removed.`));
    }
  }
  say(ok ? 'Demo finished: every step behaved as described.' : 'Demo finished WITH FAILURES (marked !! above).');
  return ok ? 0 : 1;
}
