// The nftables dataplane against a real kernel: namespaces, real HTTP and UDP through the VIP.
// Needs root. Runs the dataplane inside the LB namespace through `ip netns exec nft`, and once
// through libnftables in a child process started in that namespace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { nftablesDataplane, openNftKernel } from '../src/dataplane/nftables/index.ts';
import type { Backend, Frontend, ServiceTable } from '../src/model/index.ts';
import { createNftLab, httpBatch, startBackends, udpAsk, type NftLab } from './support/nft-netns.ts';
import { frontendOf } from './support/frontends.ts';

let lab: NftLab;
before(async () => {
  lab = createNftLab();
  await startBackends(lab);
});
after(() => lab.destroy());

const b4 = (n: 1 | 2, port = 8080, state: Backend['state'] = 'ready'): Backend => ({ address: `10.20.${n}.2`, port, weight: 1, state });
const b6 = (n: 1 | 2): Backend => ({ address: `fd20:${n}::2`, port: 8080, weight: 1, state: 'ready' });

const fe = frontendOf;

function tableOf(frontends: Frontend[], denySources: string[] = []): ServiceTable {
  return { frontends: [...frontends].sort((a, b) => (a.key < b.key ? -1 : 1)), denySources };
}

const web = (extra: Partial<Frontend> = {}, backends = [b4(1), b4(2)]): Frontend => fe('10.200.0.5', 80, 'tcp', backends, extra);
const dns = fe('10.200.0.5', 53, 'udp', [b4(1, 5353), b4(2, 5353)]);
const web6 = fe('fd00:200::5', 80, 'tcp', [b6(1), b6(2)]);
const names = (bodies: string[]): Set<string> => new Set(bodies.map((b) => b.split(' ')[0]!));

test('nftables dataplane serves VIPs and enforces policy in a real kernel', async (t) => {
  const dataplane = nftablesDataplane({ kernel: openNftKernel({ netns: lab.ns.lb }) });
  const nft = (args: string[]): string => lab.exec(lab.ns.lb, ['nft', ...args]);
  t.after(() => dataplane.cleanup().catch(() => undefined));

  await t.test('requests through the VIP reach both backends; masquerade hides the client', async () => {
    const report = await dataplane.apply(tableOf([web(), dns, web6]));
    assert.equal(report.changed, true);
    const bodies = await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 30);
    assert.deepEqual([...names(bodies)].sort(), ['b1', 'b2'], `answers: ${bodies.join(', ')}`);
    // Masquerade: the backend sees the LB's address on its own link, not the client's.
    assert.ok(bodies.every((b) => /^b1 (::ffff:)?10\.20\.1\.1$|^b2 (::ffff:)?10\.20\.2\.1$/.test(b)), bodies.join(', '));
  });

  await t.test('an apply of the same table changes nothing, and a resync finds no drift', async () => {
    const again = await dataplane.apply(tableOf([web(), dns, web6]));
    assert.equal(again.changed, false);
    const resync = await dataplane.apply(tableOf([web(), dns, web6]), { resync: true });
    assert.deepEqual([resync.changed, resync.driftRepaired], [false, false]);
  });

  await t.test('IPv6 and UDP frontends answer', async () => {
    assert.deepEqual([...names(await httpBatch(lab.ns.c1, 'http://[fd00:200::5]/', 10))].sort(), ['b1', 'b2']);
    const answers = new Set(Array.from({ length: 8 }, () => udpAsk(lab.ns.c1, '10.200.0.5', 53)));
    assert.ok([...answers].every((a) => a === 'b1' || a === 'b2'), [...answers].join(', '));
  });

  await t.test('counters grow with traffic', async () => {
    const before = (await dataplane.counters()).get('10.200.0.5:80/tcp');
    assert.ok(before !== undefined);
    await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 3);
    const after = (await dataplane.counters()).get('10.200.0.5:80/tcp')!;
    assert.ok(after.packets >= before.packets + 3n * 5n, `${before.packets} → ${after.packets}`);
    assert.ok(after.bytes > before.bytes);
  });

  await t.test('snat none keeps the client address (backends route back through the LB)', async () => {
    await dataplane.apply(tableOf([web({ snat: 'none' }), dns, web6]));
    const bodies = await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 4);
    assert.ok(bodies.every((b) => / (::ffff:)?10\.10\.1\.2$/.test(b)), bodies.join(', '));
  });

  await t.test('ClientIP affinity keeps a client on one backend', async () => {
    await dataplane.apply(tableOf([web({ sessionAffinity: 'ClientIP' }), dns, web6]));
    for (const client of [lab.ns.c1, lab.ns.c2]) {
      const seen = names(await httpBatch(client, 'http://10.200.0.5/', 12));
      assert.equal(seen.size, 1, `${client} saw ${[...seen].join(', ')}`);
    }
  });

  await t.test('the deny list refuses a client network; the other client is served', async () => {
    await dataplane.apply(tableOf([web(), dns, web6], ['10.10.2.0/24']));
    const denied = await httpBatch(lab.ns.c2, 'http://10.200.0.5/', 1);
    assert.match(denied[0]!, /^ERR/);
    assert.match((await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 1))[0]!, /^b[12] /);
  });

  await t.test('loadBalancerSourceRanges admits one client and not the other', async () => {
    await dataplane.apply(tableOf([web({ allowedSources: ['10.10.1.2/32'] }), dns, web6]));
    assert.match((await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 1))[0]!, /^b[12] /);
    assert.match((await httpBatch(lab.ns.c2, 'http://10.200.0.5/', 1))[0]!, /^ERR/);
  });

  await t.test('a frontend with no ready backend refuses new connections at once', async () => {
    await dataplane.apply(tableOf([web({}, [b4(1, 8080, 'terminating')]), dns, web6]));
    const started = performance.now();
    assert.match((await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 1))[0]!, /^ERR ECONNREFUSED/);
    assert.ok(performance.now() - started < 1400, 'rejected, not left to time out');
  });

  await t.test('removing a backend under traffic fails no request', async () => {
    await dataplane.apply(tableOf([web(), dns, web6]));
    // The removal goes in once the traffic has reached b2 (then it is under traffic, however
    // fast or slow the machine), and well before the end of the loop.
    let b2Seen: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => (b2Seen = resolve));
    const traffic = httpBatch(lab.ns.c1, 'http://10.200.0.5/', 300, (body) => {
      if (body.startsWith('b2 ')) b2Seen();
    });
    await Promise.race([seen, traffic]);
    const removal = await dataplane.apply(tableOf([web({}, [b4(1)]), dns, web6]));
    assert.equal(removal.frontendsWritten, 1);
    const bodies = await traffic;
    assert.deepEqual(bodies.filter((b) => b.startsWith('ERR')), []);
    assert.equal(bodies.length, 300);
    assert.ok(bodies.at(-1)!.startsWith('b1 '), 'new flows go to the remaining backend');
    assert.ok(bodies.some((b) => b.startsWith('b2 ')), 'b2 served before its removal');
  });

  await t.test('a backend deleted by hand is put back by an apply with resync', async () => {
    const table = tableOf([web(), dns, web6]);
    await dataplane.apply(table);
    // Backends are elements of the shared backends4tcp map (slot → address), not rules.
    const backends = (): string => nft(['list', 'map', 'inet', 'vipgate', 'backends4tcp']);
    const slot = /10\.200\.0\.5 \. tcp \. 80 \. (\d+) : 10\.20\.1\.2 \. 8080/.exec(backends())?.[1];
    assert.ok(slot !== undefined, backends());
    nft(['delete', 'element', 'inet', 'vipgate', 'backends4tcp', `{ 10.200.0.5 . tcp . 80 . ${slot} }`]);
    assert.ok(!/10\.200\.0\.5 \. tcp \. 80 \. \d+ : 10\.20\.1\.2 \. 8080/.test(backends()));
    const plain = await dataplane.apply(table);
    assert.equal(plain.changed, false, 'without resync the process trusts what it applied');
    const repaired = await dataplane.apply(table, { resync: true });
    assert.deepEqual([repaired.driftRepaired, repaired.frontendsWritten], [true, 1]);
    assert.match(backends(), new RegExp(`10\\.200\\.0\\.5 \\. tcp \\. 80 \\. ${slot} : 10\\.20\\.1\\.2 \\. 8080`));
    assert.deepEqual([...names(await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 20))].sort(), ['b1', 'b2']);
    // A deleted map element (the whole frontend unreachable) is repaired too.
    nft(['delete', 'element', 'inet', 'vipgate', 'frontends4', '{ 10.200.0.5 . udp . 53 }']);
    assert.equal((await dataplane.apply(table, { resync: true })).driftRepaired, true);
    assert.match(udpAsk(lab.ns.c1, '10.200.0.5', 53), /^b[12]$/);
  });

  await t.test('rules stay when the process goes; cleanup() removes the table', async () => {
    await dataplane.close();
    assert.match((await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 1))[0]!, /^b[12] /);
    await dataplane.cleanup();
    assert.ok(!nft(['list', 'tables']).includes('vipgate'));
    assert.match((await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 1))[0]!, /^ERR/);
  });
});

test('an agent restart reconciles the table it finds: counters kept, only the difference written; an old layout is replaced', async () => {
  const nft = (args: string[]): string => lab.exec(lab.ns.lb, ['nft', ...args]);
  const fresh = () => nftablesDataplane({ kernel: openNftKernel({ netns: lab.ns.lb }) });
  const table = tableOf([web(), dns, web6]);
  const first = fresh();
  try {
    await first.apply(table);
    await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 3);
    const before = (await first.counters()).get('10.200.0.5:80/tcp')!;
    assert.ok(before.packets > 0n);
    await first.close();

    // The agent's first pass after a restart (it asks for a resync): nothing to write.
    const second = fresh();
    const again = await second.apply(table, { resync: true });
    assert.deepEqual([again.changed, again.driftRepaired], [false, false]);
    const kept = (await second.counters()).get('10.200.0.5:80/tcp')!;
    assert.ok(kept.packets >= before.packets, `counter reset by the restart: ${before.packets} → ${kept.packets}`);

    // A backend went away while the agent was down: the restart writes just that frontend.
    const third = fresh();
    const moved = await third.apply(tableOf([web({}, [b4(1)]), dns, web6]));
    assert.deepEqual([moved.changed, moved.frontendsWritten, moved.frontendsRemoved], [true, 1, 0]);
    assert.deepEqual([...names(await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 6))], ['b1']);
    assert.ok((await third.counters()).get('10.200.0.5:80/tcp')!.packets >= kept.packets);

    // A table of an earlier layout (no layout comment, per-service chains) is replaced whole.
    nft(['delete', 'table', 'inet', 'vipgate']);
    nft(['add', 'table', 'inet', 'vipgate']);
    nft(['add', 'chain', 'inet', 'vipgate', 'fe_10_200_0_5_tcp_80']);
    const replaced = await fresh().apply(table);
    assert.equal(replaced.changed, true);
    const listing = nft(['list', 'table', 'inet', 'vipgate']);
    assert.match(listing, /comment "vipgate nftables layout 4"/);
    assert.doesNotMatch(listing, /fe_10_200_0_5_tcp_80/);
    assert.deepEqual([...names(await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 20))].sort(), ['b1', 'b2']);
  } finally {
    await first.cleanup().catch(() => undefined);
  }
});

test('libnftables through koffi programs the table inside the namespace it runs in', async () => {
  const table = tableOf([web(), web6]);
  const child = spawnSync(
    'ip',
    ['netns', 'exec', lab.ns.lb, process.execPath, '--import', 'tsx', 'test/support/nft-ffi-child.ts', JSON.stringify(table)],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(child.status, 0, child.stderr);
  const [first, resync] = child.stdout.trim().split('\n').map((l) => JSON.parse(l) as { changed: boolean; driftRepaired: boolean });
  assert.equal(first?.changed, true);
  assert.deepEqual([resync?.changed, resync?.driftRepaired], [false, false]);
  assert.deepEqual([...names(await httpBatch(lab.ns.c1, 'http://10.200.0.5/', 20))].sort(), ['b1', 'b2']);
  lab.exec(lab.ns.lb, ['nft', 'delete', 'table', 'inet', 'vipgate']);
});
