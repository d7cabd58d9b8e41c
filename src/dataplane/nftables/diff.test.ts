import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frontend } from '../../model/index.ts';
import fc from 'fast-check';
import { EMPTY_INSTALLED, chainUse, diffSteps, diffTables, renderReplace, type InstalledState } from './diff.ts';
import { contentSignature, renderTable, type RenderOptions } from './render.ts';
import { MIXED, backend, frontend, table } from './testdata/fixtures.ts';

const options: RenderOptions = { masqueradeMark: 0x00100000 };

function bigTable(n: number, change?: (f: Frontend, i: number) => Frontend): Frontend[] {
  const out: Frontend[] = [];
  for (let i = 0; i < n; i++) {
    const address = `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    const f = frontend(address, 80, {
      backends: Array.from({ length: 10 }, (_, j) => backend(`10.100.${j}.${(i % 250) + 1}`, 8080)),
    });
    out.push(change === undefined ? f : change(f, i));
  }
  return out;
}

/** The state a committed replace of `frontends` leaves. */
const installedOf = (t: ReturnType<typeof table>): InstalledState => renderReplace(renderTable(t), options).after;

test('one backend changed at 10k services: a few element commands, found without rendering the rest', () => {
  const installed = installedOf(table(bigTable(10_000)));
  const changed = table(bigTable(10_000, (f, i) => (i === 4321 ? { ...f, backends: [...f.backends.slice(0, 9), backend('10.100.9.99', 8080)] } : f)));
  const desired = renderTable(changed, installed.frontends);
  const tx = diffTables(installed, desired);
  assert.deepEqual(tx.lines, [
    'delete element inet vipgate backends4tcp { 10.200.16.225 . tcp . 80 . 9 }',
    'add element inet vipgate backends4tcp { 10.200.16.225 . tcp . 80 . 9 : 10.100.9.99 . 8080 }',
  ]);
  assert.deepEqual([tx.written, tx.removed], [['10.200.16.225:80/tcp'], []]);
  // "Without rendering the rest": every unchanged frontend keeps the entry rendered before (the
  // speed this buys is measured in bench/control-plane.bench.ts, not here).
  const reused = [...desired.frontends].filter(([key, entry]) => installed.frontends.get(key) === entry).length;
  assert.equal(reused, 9_999);
});

test('a backend removed: the slots shift, the verdict moves to the smaller pick chain, the unused chain goes', () => {
  const installed = installedOf(table([frontend('10.200.0.9', 80, { backends: [backend('10.0.0.1', 80), backend('10.0.0.2', 80), backend('10.0.0.3', 80)] })]));
  const tx = diffTables(installed, renderTable(table([frontend('10.200.0.9', 80, { backends: [backend('10.0.0.2', 80), backend('10.0.0.3', 80)] })])));
  assert.deepEqual(tx.lines, [
    'delete element inet vipgate frontends4 { 10.200.0.9 . tcp . 80 }',
    'delete element inet vipgate backends4tcp { 10.200.0.9 . tcp . 80 . 0, 10.200.0.9 . tcp . 80 . 1, 10.200.0.9 . tcp . 80 . 2 }',
    'delete chain inet vipgate pick4_tcp_random_3',
    'add chain inet vipgate pick4_tcp_random_2',
    'flush chain inet vipgate pick4_tcp_random_2',
    'add rule inet vipgate pick4_tcp_random_2 dnat ip to ip daddr . meta l4proto . tcp dport . numgen random mod 2 map @backends4tcp',
    'add element inet vipgate backends4tcp { 10.200.0.9 . tcp . 80 . 0 : 10.0.0.2 . 80, 10.200.0.9 . tcp . 80 . 1 : 10.0.0.3 . 80 }',
    'add element inet vipgate frontends4 { 10.200.0.9 . tcp . 80 : goto pick4_tcp_random_2 }',
  ]);
});

test('an unchanged table gives an empty transaction', () => {
  assert.deepEqual(diffTables(installedOf(MIXED), renderTable(MIXED)).lines, []);
});

test('adding and removing frontends: references go before what they point at goes, and come after it comes', () => {
  const gone = MIXED.frontends.filter((f) => f.key !== '10.200.0.5:53/udp');
  const tx = diffTables(installedOf(MIXED), renderTable(table([...gone, frontend('10.200.0.9', 8443, { protocol: 'udp' })], [...MIXED.denySources])));
  const at = (pattern: RegExp): number => tx.lines.findIndex((l) => pattern.test(l));
  assert.ok(at(/^delete element inet vipgate frontends4 \{ 10\.200\.0\.5 \. udp \. 53 \}$/) >= 0);
  assert.ok(at(/delete element inet vipgate frontends4/) < at(/^delete chain inet vipgate pick4_udp_hash_3$/));
  assert.ok(at(/^add rule inet vipgate pick4_udp_random_2 /) < at(/^add element inet vipgate frontends4 \{ 10\.200\.0\.9 \. udp \. 8443 : goto pick4_udp_random_2 \}$/));
  const slots = at(/^add element inet vipgate backends4udp \{ 10\.200\.0\.9 \. udp \. 8443 \. 0 :/);
  assert.ok(slots >= 0 && slots < at(/^add element inet vipgate frontends4/), tx.lines.join('\n'));
  assert.deepEqual([tx.removed, tx.written], [['10.200.0.5:53/udp'], ['10.200.0.9:8443/udp']]);
});

test('a source-range change edits allow elements only; a deny-list change refills the set', () => {
  const next = renderTable(
    table(
      MIXED.frontends.map((f) => (f.key === '10.200.0.6:443/tcp' ? { ...f, allowedSources: ['192.168.0.0/16', '172.16.0.0/12'] } : f)),
      ['10.180.0.0/16'], // the IPv6 entry goes too
    ),
  );
  assert.deepEqual(diffTables(installedOf(MIXED), next).lines, [
    'flush set inet vipgate deny4',
    'flush set inet vipgate deny6',
    'delete element inet vipgate allow4 { 10.200.0.6 . tcp . 443 . 10.1.2.3 }',
    'add element inet vipgate allow4 { 10.200.0.6 . tcp . 443 . 172.16.0.0/12 }',
    'add element inet vipgate deny4 { 10.180.0.0/16 }',
  ]);
});

test('a backend running out closes the frontend: verdict and slots go, closed4 gets it; new ones reopen it', () => {
  const open = installedOf(table([frontend('10.200.0.9', 80)]));
  const shut = diffTables(open, renderTable(table([frontend('10.200.0.9', 80, { backends: [backend('10.100.1.41', 8080, { state: 'terminating' })] })])));
  assert.ok(shut.lines.includes('add element inet vipgate closed4 { 10.200.0.9 . tcp . 80 }'));
  assert.ok(shut.lines.includes('delete element inet vipgate frontends4 { 10.200.0.9 . tcp . 80 }'));
  assert.ok(!shut.lines.some((l) => /counters4|masq4/.test(l)), 'its counter and policy stay');
  const reopened = diffTables(shut.after, renderTable(table([frontend('10.200.0.9', 80)])));
  assert.ok(reopened.lines.includes('delete element inet vipgate closed4 { 10.200.0.9 . tcp . 80 }'));
});

test('steps: 4k new frontends in steps of 1500, each atomic step holding whole frontends, ending at the desired table', () => {
  const installed = installedOf(table(bigTable(2)));
  const desired = renderTable(table(bigTable(4000)), installed.frontends);
  const steps = [...diffSteps(installed, desired, 1500, ['# first'])];
  assert.equal(steps.length, Math.ceil(3998 / 1500));
  assert.equal(steps[0]!.lines[0], '# first');
  let state = installed;
  for (const step of steps) {
    // Every frontend that gets a verdict in this step gets all its slots in the same step.
    const text = step.lines.join('\n');
    for (const m of text.matchAll(/(10\.\d+\.\d+\.\d+) \. tcp \. 80 : goto pick4_tcp_random_10/g)) {
      assert.ok(text.includes(`${m[1]} . tcp . 80 . 9 : `), `${m[1]} has a verdict without its slots in this step`);
    }
    assert.ok(step.written.length <= 1500);
    state = step.after;
  }
  assert.equal(state.frontends.size, 4000);
  for (const [key, entry] of desired.frontends) assert.equal(contentSignature(state.frontends.get(key)!.rendered), contentSignature(entry.rendered));
  assert.deepEqual(diffTables(state, desired).lines, []);
});

test('one transaction adding 10k frontends does not overflow the stack', () => {
  const tx = diffTables(EMPTY_INSTALLED, renderTable(table(bigTable(10_000))));
  assert.equal(tx.written.length, 10_000);
  assert.ok(tx.lines.every((l) => l.length < 100_000), 'elements are batched');
});

test('property: any change in steps of any size ends where the desired table is, pick chains counted and written exactly once', () => {
  // Up to 12 frontends, each with 0–3 backends (so 0–3 slots: pick chains come and go).
  const tables = fc.array(fc.tuple(fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 3 }), fc.boolean()), { maxLength: 12 }).map((specs) => {
    const byPort = new Map(specs.map(([i, n, hash]) => [i, { n, hash }] as const));
    return table(
      [...byPort].map(([i, { n, hash }]) =>
        frontend('10.200.0.5', 8000 + i, { backends: Array.from({ length: n }, (_, j) => backend(`10.100.1.${j + 1}`, 8080)), sessionAffinity: hash ? 'ClientIP' : 'None' }),
      ),
    );
  });
  fc.assert(
    fc.property(tables, tables, fc.integer({ min: 1, max: 5 }), (from, to, step) => {
      const installed = installedOf(from);
      const desired = renderTable(to, installed.frontends);
      let state = installed;
      const written = new Set<string>();
      for (const tx of diffSteps(installed, desired, step)) {
        for (const name of tx.chainsWritten.keys()) {
          assert.ok(!written.has(name) || !state.chains.has(name), `${name} written twice while present`);
          written.add(name);
        }
        // Every chain an element points at exists after each step.
        for (const { rendered } of tx.after.frontends.values()) {
          if (rendered.verdict !== undefined) assert.ok(tx.after.chains.has(rendered.verdict.slice('goto '.length)), `${rendered.key}: ${rendered.verdict} missing`);
        }
        state = tx.after;
      }
      assert.deepEqual([...state.frontends.keys()].sort(), [...desired.frontends.keys()].sort());
      assert.deepEqual(new Map([...state.pickUse].sort()), new Map([...chainUse(desired.frontends.values())].sort()));
      assert.deepEqual([...state.chains.keys()].sort(), [...chainUse(desired.frontends.values()).keys()].sort());
    }),
    { numRuns: 300 },
  );
});
