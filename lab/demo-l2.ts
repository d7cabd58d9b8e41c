// `vipgate demo --l2`: L2 mode for real, in a lab of network namespaces. A client, two LB nodes
// and the cluster nodes share one bridge; each VIP is answered (ARP/NDP) by one LB node. Every
// line it prints comes from a command it ran just now (curl, vipgate, ip): nothing canned.
import { bold, checker, indent, say, step, walkThenFinish } from './demo-output.ts';
import { cablePull, measureTakeover } from './l2-takeover.ts';
import { L2_LAB, L2_VIPS, startL2Walkthrough, type L2Node, type L2WalkthroughLab } from './scenario-l2.ts';

/** A returning node takes its VIPs back after this long: short, so the demo can show it. */
const HOLD_DOWN_SECONDS = 2;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 200 ms until it gives a value, for at most `timeoutMs`. */
async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined || Date.now() > deadline) return value;
    await sleep(200);
  }
}

const urlOf = (vip: string): string => (vip.includes(':') ? `http://[${vip}]/` : `http://${vip}/`);

async function walkL2(w: L2WalkthroughLab): Promise<boolean> {
  const { lab } = w;
  const checks = checker();
  const check = (cond: boolean, what: string): void => {
    checks.check(cond, what);
  };
  const macs: Record<L2Node, string> = { lb1: await w.macOf('lb1'), lb2: await w.macOf('lb2') };
  const nameOfMac = (mac: string | undefined): string => (mac === macs.lb1 ? 'lb1' : mac === macs.lb2 ? 'lb2' : String(mac));

  step(2, 'Who answers for each VIP: vipgate l2 status (in lb1)');
  const owners = await waitFor(() => w.agreedOwners(), 30_000);
  check(owners !== undefined, 'lb1 and lb2 did not agree on the owners within 30 s');
  say(indent(await w.agents.lb1.vipgate(['l2', 'status'])));
  check(owners !== undefined && new Set(owners.values()).size === 2, 'the VIPs are not spread over both nodes');

  step(3, 'curl every VIP from the client: no router, no static route; the owner answers ARP/NDP');
  for (const vip of L2_VIPS) {
    const r = await lab.curl('client', urlOf(vip));
    say(`   $ curl ${urlOf(vip).padEnd(26)} → ${r.ok ? r.body.trim() : `FAILED (${r.error ?? r.status})`}   (owner ${owners?.get(vip) ?? '?'})`);
    check(r.ok, `curl ${urlOf(vip)} failed`);
  }

  step(4, "The client's neighbour table: each VIP at its owner's MAC");
  say(`   lb1 lan ${macs.lb1}, lb2 lan ${macs.lb2}`);
  say('   $ ip neigh show dev lan   (in client)');
  const table = await lab.exec('client', ['ip', 'neigh', 'show', 'dev', 'lan']);
  say(indent(table.split('\n').filter((l) => L2_VIPS.some((v) => l.startsWith(`${v} `))).map((l) => `${l}   (${nameOfMac(/lladdr (\S+)/.exec(l)?.[1])})`).join('\n')));
  for (const vip of L2_VIPS) check((await w.clientNeighbour(vip)) === macs[owners?.get(vip) ?? 'lb1'], `the client's entry for ${vip} is not its owner's MAC`);

  const vip = L2_LAB.vips.map((v) => v.v4).find((v) => owners?.get(v) === 'lb1');
  step(5, `lb1's cable pulled (its switch port down) while the client sends requests to ${vip ?? 'a VIP of lb1'}`);
  if (vip === undefined) {
    check(false, 'lb1 owns no IPv4 VIP');
    return checks.ok;
  }
  say(`   $ ip neigh show ${vip} dev lan   (in client)   ${(await lab.exec('client', ['ip', 'neigh', 'show', vip, 'dev', 'lan'])).trim()}   (lb1)`);
  const cable = cablePull(lab, 'lb1');
  try {
    const t = await measureTakeover(lab, { vip, survivor: 'lb2', survivorMac: macs.lb2, fail: cable.fail, failureSeen: cable.failureSeen, leadMs: 500, windowMs: 2500 });
    say(`   requests to ${urlOf(vip)}, 2 at a time, each on a new connection, 300 ms timeout:`);
    say(`   BFD (100 ms × 3) noticed lb1's silence; lb2 took the VIP and announced it (gratuitous ARP)`);
    say(`   the client's entry named lb2's MAC after ${t.neighbourMs ?? 'never'} ms`);
    say(`   traffic through lb2 only after ${t.gap.gapMs ?? 'never'} ms; ${t.failed} of ${t.requests} requests running at the cut or started after it were lost`);
    say(`   $ ip neigh show ${vip} dev lan   (in client)   ${(await lab.exec('client', ['ip', 'neigh', 'show', vip, 'dev', 'lan'])).trim()}   (${nameOfMac(await w.clientNeighbour(vip))})`);
    check(t.gap.gapMs !== undefined && t.gap.gapMs <= 1000, 'failover took longer than 1 s');
    check((await w.clientNeighbour(vip)) === macs.lb2, "the client's entry did not move to lb2");
  } finally {
    await cable.restore();
  }

  step(6, `lb1's cable back: after the ${HOLD_DOWN_SECONDS} s hold-down (l2.failbackHoldDownSeconds) it takes its VIPs back, once`);
  const back = await waitFor(async () => {
    const now = await w.agreedOwners();
    return now !== undefined && owners !== undefined && [...owners].every(([v, o]) => now.get(v) === o) && (await w.clientNeighbour(vip)) === macs.lb1 ? now : undefined;
  }, 20_000);
  say('   lb1 never stopped: alone on its side it answered for every VIP; back on the segment the two claims met');
  say('   (counted as conflicts) and the lower-ranked node yielded each VIP: one owner per VIP again');
  say('   $ vipgate l2 status   (in lb2)');
  say(indent(await w.agents.lb2.vipgate(['l2', 'status'])));
  say(`   $ ip neigh show ${vip} dev lan   (in client)   ${(await lab.exec('client', ['ip', 'neigh', 'show', vip, 'dev', 'lan'])).trim()}   (${nameOfMac(await w.clientNeighbour(vip))})`);
  check(back !== undefined, 'the original owners did not come back within 20 s');
  return checks.ok;
}

export async function runL2Demo(options: { keep: boolean }): Promise<number> {
  say(bold('vipgate demo --l2 — L2 mode: one LB node answers ARP/NDP for each VIP, failover under a second'));
  step(1, 'Build the lab: client, lb1, lb2 (vipgate agents, L2 mode, nftables), node1 + node2 with pods, all on one bridge');
  const started = Date.now();
  const w = await startL2Walkthrough({ failbackHoldDownSeconds: HOLD_DOWN_SECONDS });
  const removeHandlers = w.lab.removeOnSignals();
  say(`   lab ${w.lab.prefix}: namespaces ${w.lab.plan.namespaces.join(' ')}`);
  say(`   bridge "lan" ${L2_LAB.client.v4.replace(/\.\d+$/, '.0/24')}: client ${L2_LAB.client.v4}, lb1 ${L2_LAB.lb1.v4}, lb2 ${L2_LAB.lb2.v4}; VIPs ${L2_LAB.vips[0]!.v4}–${L2_LAB.vips.at(-1)!.v4} and ${L2_LAB.vips[0]!.v6}–${L2_LAB.vips.at(-1)!.v6}`);
  say(`   agents: bin/vipgate agent --config ${w.agents.lb1.configPath} (and lb2.yaml beside it)`);
  say(`   ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const explore = [`ip netns exec ${w.lab.ns('lb1')} bin/vipgate l2 status`, `ip netns exec ${w.lab.ns('client')} curl http://${L2_LAB.vips[0]!.v4}/`];
  return walkThenFinish({ keep: options.keep, prefix: w.lab.prefix, explore, removeHandlers, down: () => w.down() }, () => walkL2(w));
}
