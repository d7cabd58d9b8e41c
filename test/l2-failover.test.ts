// L2 mode end to end (docs/design/017): a client, two LB nodes running the agent (lb1 on nftables,
// lb2 on XDP: both engines serve what L2 brings them) and the cluster nodes share one bridge; no
// router, no static route. Every VIP (IPv4 and IPv6) answers through
// the LB node that owns it; the client's neighbour table holds that node's MAC; asked on the wire,
// exactly one MAC answers for each VIP; the owner's cable pulled under load → the other node takes
// over within a second and the client's entry moves; BFD filtered between the nodes while both stay
// on the segment → still one MAC per VIP; the cable back → one owner per VIP again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { failoverGap } from '../lab/probe.ts';
import { L2_LAB, L2_VIPS, l2SwitchPort, startL2Walkthrough, type L2Node, type L2StatusJson, type L2WalkthroughLab } from '../lab/scenario-l2.ts';
import { eventually } from './support/eventually.ts';

const WHO_HAS = join(import.meta.dirname, 'support', 'l2-who-has.ts');
const ALL_VIPS = L2_VIPS;

describe('L2 mode: one owner per VIP on a flat network, failover under a second', { concurrency: false }, () => {
  let w: L2WalkthroughLab;
  let macs: Record<L2Node, string>;

  /** Both nodes agree on every VIP's owner, and the owner answers for it. */
  const settled = (): Promise<Map<string, L2Node> | undefined> => w.agreedOwners();
  /** Rounds of "who has each VIP?" from the client: VIP → the MACs that answered, per round. */
  const whoHas = async (rounds: number, waitMs = 100): Promise<Record<string, string[]>[]> => {
    const out = await w.lab.exec('client', [process.execPath, '--import', 'tsx', WHO_HAS, 'lan', String(rounds), String(waitMs), ...ALL_VIPS], { timeoutMs: 30_000 + rounds * (waitMs + 100) });
    return out
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { answers: Record<string, string[]> }).answers);
  };
  const peerUp = async (node: L2Node): Promise<boolean> => (await w.status(node)).peers.every((p) => p.state === 'Up');

  before(async () => {
    w = await startL2Walkthrough({ failbackHoldDownSeconds: 2, engines: { lb2: 'xdp' } });
    macs = { lb1: await w.macOf('lb1'), lb2: await w.macOf('lb2') };
    await eventually('both LB nodes to see each other and agree on every owner', async () => (await peerUp('lb1')) && (await peerUp('lb2')) && settled(), 30_000);
  });
  after(async () => {
    // `w` is unset when before() failed half-way; the types cannot say so.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    await w?.down();
  });

  test('every VIP, IPv4 and IPv6, answers through the segment, and both nodes own some', async () => {
    const owners = await eventually('both nodes to agree on every owner', settled, 10_000);
    assert.deepEqual(new Set(owners.values()), new Set(['lb1', 'lb2']), 'the VIPs are spread over both nodes');
    for (const vip of ALL_VIPS) {
      const url = vip.includes(':') ? `http://[${vip}]/` : `http://${vip}/`;
      const r = await w.lab.curl('client', url);
      assert.equal(r.status, 200, `${url}: ${r.error ?? r.body}`);
    }
  });

  test("the client's neighbour table holds each VIP's owner's MAC", async () => {
    const owners = await eventually('both nodes to agree on every owner', settled, 10_000);
    for (const vip of ALL_VIPS) assert.equal(await w.clientNeighbour(vip), macs[owners.get(vip)!], vip);
  });

  test('asked on the wire, exactly one MAC answers for each VIP, its owner', async () => {
    const owners = await eventually('both nodes to agree on every owner', settled, 10_000);
    for (const round of await whoHas(20)) {
      for (const vip of ALL_VIPS) assert.deepEqual(round[vip], [macs[owners.get(vip)!]], `${vip}: ${JSON.stringify(round[vip])}`);
    }
  });

  test("the owner's cable pulled under load: the other node serves within a second; the cable back, one owner again", async () => {
    const owners = await eventually('both nodes to agree on every owner', settled, 10_000);
    const v4 = L2_LAB.vips.find((v) => owners.get(v.v4) === 'lb1')!.v4;
    const v6 = L2_LAB.vips.find((v) => owners.get(v.v6) === 'lb1')!.v6;
    const durationMs = 5000;
    const probes = [w.lab.flowProbe('client', `http://${v4}/`, { durationMs, concurrency: 2, timeoutMs: 300 }), w.lab.flowProbe('client', `http://[${v6}]/`, { durationMs, concurrency: 2, timeoutMs: 300 })];
    await new Promise((r) => setTimeout(r, 1000));
    const cutAt = Date.now();
    await w.lab.exec('switch', ['ip', 'link', 'set', l2SwitchPort('lb1'), 'down']);
    let samples;
    try {
      samples = await Promise.all(probes);
      await eventually(`the client's entry for ${v4} to move to lb2`, async () => (await w.clientNeighbour(v4)) === macs.lb2, 5000);
    } finally {
      await w.lab.exec('switch', ['ip', 'link', 'set', l2SwitchPort('lb1'), 'up']);
    }
    for (const [i, family] of (['v4', 'v6'] as const).entries()) {
      const survivor = family === 'v4' ? L2_LAB.lb2.v4 : L2_LAB.lb2.v6;
      const gap = failoverGap(samples[i]!, cutAt, (s) => s.ok && s.via === survivor);
      assert.ok(gap.gapMs !== undefined && gap.gapMs <= 1000, `${family}: gap ${gap.gapMs} ms (${gap.bad} of ${gap.total} requests failed or went through lb1)`);
      assert.ok(samples[i]!.filter((s) => s.t < cutAt).every((s) => s.ok), `${family}: every request before the cut was answered`);
    }
    const seen = await w.status('lb2');
    assert.ok(seen.counters.ownershipChanges > 0);
    assert.match(seen.vips.find((v) => v.vip === v4)!.why, /lb1 is down/);
    // lb1 never stopped: it owned everything in its half. Back on the segment, the two claims meet.
    await eventually('one owner per VIP again, agreed by both', settled, 20_000);
    await eventually('one MAC answering each VIP', async () => (await whoHas(1))[0]!, 10_000);
    for (const round of await whoHas(10)) for (const vip of ALL_VIPS) assert.equal(round[vip]?.length, 1, `${vip}: ${JSON.stringify(round[vip])}`);
  });

  test('BFD filtered between the nodes while both stay on the segment: still exactly one MAC per VIP', async () => {
    const table = 'l2test';
    for (const argv of [
      ['add', 'table', 'inet', table],
      ['add', 'chain', 'inet', table, 'in', '{ type filter hook input priority -10; }'],
      ['add', 'chain', 'inet', table, 'out', '{ type filter hook output priority -10; }'],
      ['add', 'rule', 'inet', table, 'in', 'ip', 'saddr', L2_LAB.lb2.v4, 'udp', 'dport', '3784', 'drop'],
      ['add', 'rule', 'inet', table, 'out', 'ip', 'daddr', L2_LAB.lb2.v4, 'udp', 'dport', '3784', 'drop'],
    ]) {
      await w.lab.exec('lb1', ['nft', ...argv]);
    }
    try {
      await eventually('both nodes to see the other down', async () => !(await peerUp('lb1')) && !(await peerUp('lb2')), 10_000);
      // Each now wants every VIP; it probes those of the other, hears them answered, and stays silent.
      await new Promise((r) => setTimeout(r, 500));
      for (const round of await whoHas(20)) for (const vip of ALL_VIPS) assert.equal(round[vip]?.length, 1, `${vip}: ${JSON.stringify(round[vip])}`);
      for (const vip of [L2_LAB.vips[0]!.v4, L2_LAB.vips[0]!.v6]) {
        const url = vip.includes(':') ? `http://[${vip}]/` : `http://${vip}/`;
        assert.equal((await w.lab.curl('client', url)).status, 200, url);
      }
    } finally {
      await w.lab.exec('lb1', ['nft', 'delete', 'table', 'inet', table]);
    }
    await eventually('BFD up again and one owner per VIP', async () => (await peerUp('lb1')) && (await peerUp('lb2')) && settled(), 20_000);
  });

  test('vipgate l2 status says who owns what and why', async () => {
    const text = await w.agents.lb1.vipgate(['l2', 'status']);
    assert.match(text, /^node lb1: answers for the VIPs it owns/m);
    for (const vip of ALL_VIPS) assert.match(text, new RegExp(`^${vip.replaceAll('.', '\\.')}\\s+lan\\s+lb[12]\\s`, 'm'));
    assert.match(text, /^lb2\s+10\.180\.1\.17\s+10\.180\.1\.16\s+Up\b/m);
  });

  test('vipgate explain on a node names the L2 owner of a VIP', async () => {
    const owners = await eventually('both nodes to agree on every owner', settled, 10_000);
    const vip = L2_LAB.vips.find((v) => owners.get(v.v4) === 'lb2')!.v4;
    const text = await w.agents.lb1.vipgate(['explain', `${vip}:80`]);
    assert.match(text, new RegExp(`${vip.replaceAll('.', '\\.')} is answered by lb2`));
    const here = L2_LAB.vips.find((v) => owners.get(v.v4) === 'lb1')!.v4;
    assert.match(await w.agents.lb1.vipgate(['explain', `${here}:80`]), /served/);
  });
});

export type { L2StatusJson };
