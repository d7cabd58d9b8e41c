// The netlink element writer and reader against the kernel, next to libnftables. Needs root.
// The checks run in a child (this same file, VGT_NFT_NETLINK_CHILD=<case>) started inside a
// namespace of our own: libnftables (ffiRunner) and the netlink socket both act in the
// namespace of their process. The child prints one JSON line; the parent asserts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { ffiRunner, type NftRunner } from '../src/dataplane/nftables/index.ts';
import { netlinkGeneration } from '../src/dataplane/nftables/generation.ts';
import { parseListing } from '../src/dataplane/nftables/listing.ts';
import { opOf } from '../src/dataplane/nftables/testdata/elements.ts';
import { nftNetlink, type ElementBatchOp } from '../src/dataplane/nftables/netlink/index.ts';
import { DEFAULT_MASQUERADE_MARK, SetNames, pickRule, skeletonText, type SetName } from '../src/dataplane/nftables/render.ts';

const MIXED = fileURLToPath(new URL('../src/dataplane/nftables/testdata/mixed.nft', import.meta.url));
const ELEMENT_LINE = /^add element inet vipgate (\S+) \{ (.*) \}$/;

/** Element ops as nft text, as the tests write them (and report them back as JSON). */
type TextOp = { readonly verb: 'add' | 'delete'; readonly set: SetName; readonly elements: readonly string[] } | { readonly verb: 'flush'; readonly set: SetName };

/** The structures the dataplane hands the netlink writer, for ops written as text. */
const toOps = (ops: readonly TextOp[]): ElementBatchOp[] => ops.map((o) => (o.verb === 'flush' ? o : opOf(o.verb, o.set, o.elements)));

/** mixed.nft split into what libnftables keeps (skeleton, chains, flushes) and its element ops. */
function mixed(): { skeleton: string; ops: TextOp[]; text: string } {
  const text = readFileSync(MIXED, 'utf8');
  const ops: TextOp[] = [];
  const rest: string[] = [];
  for (const line of text.split('\n')) {
    const m = ELEMENT_LINE.exec(line);
    if (m === null) rest.push(line);
    else ops.push({ verb: 'add', set: m[1] as SetName, elements: m[2]!.split(', ') });
  }
  return { skeleton: rest.join('\n'), ops, text };
}

const fresh = `add table inet vipgate\ndelete table inet vipgate\n${skeletonText({ masqueradeMark: DEFAULT_MASQUERADE_MARK })}`;

async function child(which: string): Promise<unknown> {
  const nft: NftRunner = ffiRunner();
  const nl = nftNetlink();
  try {
    const list = (): Promise<string> => nft.run('list table inet vipgate');
    if (which === 'listing') {
      // (1) the same elements written as text and over netlink list the same;
      // (2) elements written as text come back from listElements as that text.
      const { skeleton, ops, text } = mixed();
      await nft.run(text);
      const byText = await list();
      const read: Record<string, { elements: string[]; counts: Record<string, string> }> = {};
      for (const set of Object.values(SetNames)) {
        const r = nl.listElements(set);
        read[set] = { elements: r.elements, counts: Object.fromEntries([...r.counts].map(([k, v]) => [k, `${v.packets}/${v.bytes}`])) };
      }
      await nft.run(skeleton);
      const emptied = await list();
      nl.commit(toOps(ops));
      const byNetlink = await list();
      return { byText, byNetlink, emptied, read, written: ops };
    }
    if (which === 'changes') {
      // Deletes of every shape (map key, concatenated range, interval) and deny rewrites list
      // as nft's own do.
      const ops: TextOp[] = [
        { verb: 'delete', set: 'frontends6', elements: ['fd00:200::5 . tcp . 80'] },
        { verb: 'delete', set: 'backends4udp', elements: ['10.200.0.5 . udp . 53 . 2'] },
        { verb: 'delete', set: 'allow4', elements: ['10.200.0.6 . tcp . 443 . 192.168.0.0/16'] },
        { verb: 'delete', set: 'deny4', elements: ['10.181.0.7'] },
        { verb: 'delete', set: 'counters4', elements: ['10.200.0.7 . tcp . 80'] },
        // Deny lists reaching both ends of the address space, added to and rewritten whole.
        { verb: 'add', set: 'deny4', elements: ['255.0.0.0/8', '0.0.0.0/8'] },
        { verb: 'flush', set: 'deny6' },
        { verb: 'add', set: 'deny6', elements: ['ffff::/16', '::1'] },
      ];
      const asText = ops
        .map((o) => (o.verb === 'flush' ? `flush set inet vipgate ${o.set}` : `${o.verb} element inet vipgate ${o.set} { ${o.elements.join(', ')} }`))
        .join('\n');
      await nft.run(mixed().text);
      await nft.run(`${asText}\n`);
      const byText = await list();
      await nft.run(mixed().text);
      const generation = netlinkGeneration();
      const before = generation();
      nl.commit(toOps(ops));
      const after = generation();
      const byNetlink = await list();
      const deny = [...nl.listElements('deny4').elements, ...nl.listElements('deny6').elements];
      return { byText, byNetlink, deny, generationMoved: before === undefined || after === undefined ? undefined : after - before };
    }
    if (which === 'atomic') {
      // No table yet: the error says so rather than blaming an element.
      const missing: string[] = [];
      for (const attempt of [() => nl.commit(toOps([{ verb: 'add', set: 'masq4', elements: ['10.200.0.99 . tcp . 80'] }])), () => nl.listElements('masq4')]) {
        try {
          attempt();
          missing.push('no error');
        } catch (e) {
          missing.push(e instanceof Error ? e.message : String(e));
        }
      }
      // (3) a refused op leaves the kernel as it was, an earlier op of the batch included.
      await nft.run(mixed().text);
      const before = await list();
      const generation = netlinkGeneration();
      const genBefore = generation();
      let error = '';
      try {
        nl.commit(
          toOps([
            { verb: 'add', set: 'masq4', elements: ['10.200.0.99 . tcp . 80'] },
            { verb: 'delete', set: 'backends4tcp', elements: ['10.200.0.5 . tcp . 80 . 0', '10.200.0.5 . tcp . 80 . 7'] },
            { verb: 'add', set: 'closed4', elements: ['10.200.0.98 . tcp . 80'] },
          ]),
        );
      } catch (e) {
        error = e instanceof Error ? `${(e as { code?: string }).code} ${e.message}` : String(e);
      }
      const afterFailure = await list();
      const genAfter = generation();
      const generationMoved = genBefore === undefined || genAfter === undefined ? undefined : genAfter - genBefore;
      // And a batch that is fine afterwards still goes through on the same socket.
      nl.commit(toOps([{ verb: 'add', set: 'masq4', elements: ['10.200.0.99 . tcp . 80'] }]));
      return { error, before, afterFailure, generationMoved, missing, masq4: nl.listElements('masq4').elements };
    }
    if (which === 'counter') {
      // (4) a counters4 element written over netlink counts packets to its VIP.
      spawnSync('ip', ['link', 'set', 'lo', 'up']);
      spawnSync('ip', ['addr', 'add', '10.200.0.5/32', 'dev', 'lo']);
      await nft.run(fresh);
      nl.commit(toOps([{ verb: 'add', set: 'counters4', elements: ['10.200.0.5 . udp . 5353', '10.200.0.6 . udp . 5353'] }]));
      const sent = spawnSync('bash', ['-c', 'for i in 1 2 3; do echo hello > /dev/udp/10.200.0.5/5353; done'], { timeout: 5000 });
      const { counts } = nl.listElements('counters4');
      const listed = parseListing(await nft.run('list set inet vipgate counters4')).sets.get('counters4')?.counts;
      const show = (m: ReadonlyMap<string, { packets: bigint; bytes: bigint }> | undefined): Record<string, string> =>
        Object.fromEntries([...(m ?? [])].map(([k, v]) => [k, `${v.packets}/${v.bytes}`]));
      return { sendStatus: sent.status, netlink: show(counts), nft: show(listed) };
    }
    if (which === 'large') {
      // (5) 10k frontends × 10 slots and their flags: ~130k elements in one batch.
      await nft.run(`${fresh}add chain inet vipgate pick4_tcp_random_10\nadd rule inet vipgate pick4_tcp_random_10 ${pickRule('pick4_tcp_random_10')!}\n`);
      const vips: string[] = [];
      for (let i = 0; i < 10_000; i++) vips.push(`10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255} . tcp . 80`);
      const slots: string[] = [];
      for (const [i, vip] of vips.entries()) for (let s = 0; s < 10; s++) slots.push(`${vip} . ${s} : 10.100.${(i * 10 + s) >> 8 & 255}.${(i * 10 + s) & 255} . 8080`);
      const ops: TextOp[] = [
        { verb: 'add', set: 'backends4tcp', elements: slots },
        { verb: 'add', set: 'counters4', elements: vips },
        { verb: 'add', set: 'masq4', elements: vips },
        { verb: 'add', set: 'frontends4', elements: vips.map((v) => `${v} : goto pick4_tcp_random_10`) },
      ];
      const batch = toOps(ops); // the dataplane hands over structures: not part of the commit's time
      let t = performance.now();
      nl.commit(batch);
      const commitMs = performance.now() - t;
      t = performance.now();
      const backends = nl.listElements('backends4tcp').elements;
      const listMs = performance.now() - t;
      const wanted = new Set(slots);
      return {
        elements: slots.length + 3 * vips.length,
        commitMs,
        listMs,
        listed: backends.length,
        allListed: backends.every((e) => wanted.has(e)),
        frontends: nl.listElements('frontends4').elements.length,
      };
    }
    throw new Error(`unknown case ${which}`);
  } finally {
    nl.close();
    await nft.run('add table inet vipgate\ndelete table inet vipgate').catch(() => undefined);
    await nft.close();
  }
}

const childCase = process.env['VGT_NFT_NETLINK_CHILD'];
if (childCase !== undefined) {
  const report = await child(childCase);
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  const prefix = `vgt${randomBytes(2).toString('hex')}-`;
  const made: string[] = [];
  // One namespace per case: a case can't see another's leftovers.
  const run = (which: string): unknown => {
    const ns = `${prefix}nl-${which}`;
    const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
    assert.equal(add.status, 0, add.stderr);
    made.push(ns);
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url)], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, VGT_NFT_NETLINK_CHILD: which },
    });
    assert.equal(r.status, 0, `child ${which} failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as unknown;
  };
  let listing: unknown;
  const listingReport = (): unknown => (listing ??= run('listing'));
  after(() => {
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
  });

  test('elements written over netlink list exactly as the same elements written as nft text', () => {
    const r = listingReport() as { byText: string; byNetlink: string; emptied: string };
    assert.ok(!r.emptied.includes('elements ='), 'the table was not emptied between the two writes');
    assert.ok(r.byText.includes('10.200.0.5 . tcp . 80 . 1 : 10.100.1.42 . 8080'));
    assert.equal(r.byNetlink, r.byText);
  });

  test('elements written as nft text come back from listElements as that text, counters included', () => {
    const r = listingReport() as { read: Record<string, { elements: string[]; counts: Record<string, string> }>; written: TextOp[] };
    for (const set of Object.values(SetNames)) {
      const written = r.written.filter((o) => o.set === set).flatMap((o) => (o.verb === 'flush' ? [] : o.elements));
      const read = r.read[set]!.elements;
      // Hash sets dump in the kernel's order; the deny lists in address order.
      if (set.startsWith('deny')) assert.deepEqual(read, [...written].sort(), set);
      else assert.deepEqual([...read].sort(), [...written].sort(), set);
    }
    assert.deepEqual(r.read['counters6']!.counts, { 'fd00:200::5 . tcp . 80': '0/0' });
    assert.equal(Object.keys(r.read['counters4']!.counts).length, 5);
    assert.deepEqual(r.read['masq4']!.counts, {}, 'a set without counters reports none');
  });

  test('deletes of every shape and deny rewrites over netlink list as the same changes given to nft, in one transaction', () => {
    const r = run('changes') as { byText: string; byNetlink: string; deny: string[]; generationMoved: number | undefined };
    assert.ok(!r.byText.includes('192.168.0.0/16') && !r.byText.includes('10.181.0.7'), 'the text deletes did not apply');
    assert.ok(r.byText.includes('255.0.0.0/8') && r.byText.includes('ffff::/16'), 'the text deny lists did not apply');
    assert.equal(r.byNetlink, r.byText);
    assert.deepEqual(r.deny, ['0.0.0.0/8', '10.180.0.0/16', '255.0.0.0/8', '::1', 'ffff::/16']);
    assert.equal(r.generationMoved, 1, 'one batch is one ruleset generation');
  });

  test('a refused op throws naming it and the errno, and nothing of its batch is applied', () => {
    const r = run('atomic') as { error: string; before: string; afterFailure: string; generationMoved: number | undefined; missing: string[]; masq4: string[] };
    assert.match(r.error, /^NFT_COMMAND_FAILED /);
    assert.match(r.error, /delete element from backends4tcp: 10\.200\.0\.5 \. tcp \. 80 \. 7/);
    assert.match(r.error, /ENOENT/);
    assert.equal(r.afterFailure, r.before, 'the kernel changed although the batch was refused');
    assert.ok(!r.afterFailure.includes('10.200.0.99'), 'the add before the refused delete was applied');
    assert.ok(r.masq4.includes('10.200.0.99 . tcp . 80'), 'the next batch on the same socket did not go through');
    assert.equal(r.generationMoved, 0, 'a refused batch moved the ruleset generation');
    assert.match(r.missing[0]!, /add of set masq4 \(the table inet vipgate or the set itself, not an element\): ENOENT/);
    assert.match(r.missing[1]!, /listing set masq4 of table inet vipgate failed: ENOENT/);
  });

  test('a counters4 element written over netlink counts the packets to its VIP', () => {
    const r = run('counter') as { sendStatus: number; netlink: Record<string, string>; nft: Record<string, string> };
    assert.equal(r.sendStatus, 0);
    const [packets, bytes] = (r.netlink['10.200.0.5 . udp . 5353'] ?? '0/0').split('/').map(Number) as [number, number];
    // Three datagrams, each seen by the lookup in filter_output (and again in prerouting on lo).
    assert.ok(packets >= 3, `counted ${packets} packets`);
    assert.ok(bytes >= 3 * 34, `counted ${bytes} bytes`);
    assert.equal(r.netlink['10.200.0.6 . udp . 5353'], '0/0', 'another VIP counted packets it never got');
    assert.deepEqual(r.netlink, r.nft, 'netlink and nft read different counters');
  });

  test('130k elements go in one batch and come back', (t) => {
    const r = run('large') as { elements: number; commitMs: number; listMs: number; listed: number; allListed: boolean; frontends: number };
    t.diagnostic(`${r.elements} elements: commit ${r.commitMs.toFixed(0)} ms, listing 100k slots ${r.listMs.toFixed(0)} ms`);
    assert.equal(r.listed, 100_000);
    assert.ok(r.allListed, 'a listed slot is not one that was written');
    assert.equal(r.frontends, 10_000);
  });
}
