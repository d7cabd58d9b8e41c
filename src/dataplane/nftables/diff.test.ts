import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frontend } from '../../model/index.ts';
import { diffTables, installedFrom } from './diff.ts';
import { findDrift } from './drift.ts';
import { parseListing } from './listing.ts';
import { renderTable, renderTableText, type RenderOptions } from './render.ts';
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

const chainsIn = (text: string): Set<string> => new Set([...text.matchAll(/\b(f[ew]_[0-9a-f_]+(?:tcp|udp)_\d+)/g)].map((m) => m[1]!));

test('one backend change in a 10k-service table rewrites exactly one chain', () => {
  const before = renderTable(table(bigTable(10_000)), options);
  const after = renderTable(
    table(bigTable(10_000, (f, i) => (i === 4321 ? { ...f, backends: f.backends.slice(1) } : f))),
    options,
  );
  const started = performance.now();
  const tx = diffTables(installedFrom(before), after);
  const elapsed = performance.now() - started;
  assert.deepEqual([...chainsIn(tx.text)], ['fe_10_200_16_225_tcp_80']);
  assert.match(tx.text, /^flush chain inet vipgate fe_10_200_16_225_tcp_80$/m);
  assert.ok(!tx.text.includes('10.100.0.226'), 'the removed backend is gone from the rewritten chain');
  assert.ok(!/element/.test(tx.text), 'no map element changes');
  assert.deepEqual(tx.written, ['10_200_16_225_tcp_80']);
  assert.ok(elapsed < 200, `diff took ${elapsed} ms`);
});

test('an unchanged table gives an empty transaction', () => {
  const r = renderTable(MIXED, options);
  assert.equal(diffTables(installedFrom(r), renderTable(MIXED, options)).text, '');
});

test('adding and removing frontends edits elements and chains, deleting elements before chains', () => {
  const base = renderTable(MIXED, options);
  const gone = MIXED.frontends.filter((f) => f.key !== '10.200.0.6:443/tcp');
  const next = renderTable(table([...gone, frontend('10.200.0.9', 8443)], [...MIXED.denySources]), options);
  const tx = diffTables(installedFrom(base), next);
  const lines = tx.text.trim().split('\n');
  const at = (pattern: RegExp): number => lines.findIndex((l) => pattern.test(l));
  assert.ok(at(/^delete element inet vipgate frontends4 \{ 10\.200\.0\.6 \. tcp \. 443 \}$/) >= 0);
  assert.ok(at(/^delete element inet vipgate allow4 \{ 10\.200\.0\.6 \. tcp \. 443 \. 10\.1\.2\.3, /) >= 0);
  assert.ok(at(/delete element inet vipgate frontends4/) < at(/^delete chain inet vipgate fe_10_200_0_6_tcp_443$/));
  assert.ok(at(/^delete counter inet vipgate cnt_10_200_0_6_tcp_443$/) >= 0);
  assert.ok(at(/^add chain inet vipgate fe_10_200_0_9_tcp_8443$/) < at(/^add element inet vipgate frontends4 \{ 10\.200\.0\.9 \. tcp \. 8443 : goto fe_10_200_0_9_tcp_8443 \}$/));
  assert.deepEqual(tx.removed, ['10_200_0_6_tcp_443']);
  assert.deepEqual(tx.written, ['10_200_0_9_tcp_8443']);
});

test('a source-range change edits allow elements only; a deny-list change refills the set', () => {
  const base = renderTable(MIXED, options);
  const next = renderTable(
    table(
      MIXED.frontends.map((f) => (f.key === '10.200.0.6:443/tcp' ? { ...f, allowedSources: ['192.168.0.0/16', '172.16.0.0/12'] } : f)),
      ['10.180.0.0/16'], // the IPv6 entry goes too
    ),
    options,
  );
  const tx = diffTables(installedFrom(base), next);
  assert.deepEqual(tx.text.trim().split('\n'), [
    'flush set inet vipgate deny4',
    'flush set inet vipgate deny6',
    'delete element inet vipgate allow4 { 10.200.0.6 . tcp . 443 . 10.1.2.3 }',
    'add element inet vipgate allow4 { 10.200.0.6 . tcp . 443 . 172.16.0.0/12 }',
    'add element inet vipgate deny4 { 10.180.0.0/16 }',
  ]);
});

test('drift: a rule deleted by hand marks its frontend stale, and the repair rewrites only it', () => {
  const r = renderTable(MIXED, options);
  const listed = renderTableText(r, options).replace('\t\tmeta l4proto tcp numgen random mod 2 < 1 dnat ip to 10.100.1.41:8080\n\t\tmeta l4proto tcp dnat ip to 10.100.1.42:8080\n\t}\n\tchain fw_10_200_0_5_tcp_80', '\t\tmeta l4proto tcp dnat ip to 10.100.1.42:8080\n\t}\n\tchain fw_10_200_0_5_tcp_80');
  assert.notEqual(listed, renderTableText(r, options));
  const clean = findDrift(parseListing(renderTableText(r, options)), installedFrom(r), options);
  assert.deepEqual(clean.what, []);
  const drift = findDrift(parseListing(listed), installedFrom(r), options);
  assert.equal(drift.fullReplace, false);
  assert.deepEqual([...drift.staleFrontends], ['10_200_0_5_tcp_80']);
  const tx = diffTables({ ...installedFrom(r), staleFrontends: drift.staleFrontends }, r);
  assert.deepEqual([...chainsIn(tx.text)], ['fe_10_200_0_5_tcp_80', 'fw_10_200_0_5_tcp_80']);
  assert.match(tx.text, /^add counter inet vipgate cnt_10_200_0_5_tcp_80$/m);
});

test('drift: a missing map element makes the map stale; a changed base chain asks for a full replace', () => {
  const r = renderTable(MIXED, options);
  const text = renderTableText(r, options);
  const noElement = text.replace('10.200.0.7 . tcp . 80 : goto fe_10_200_0_7_tcp_80,\n\t\t\t     ', '');
  const drift = findDrift(parseListing(noElement), installedFrom(r), options);
  assert.deepEqual([...drift.staleSets], ['frontends4']);
  const tx = diffTables({ ...installedFrom(r), staleSets: drift.staleSets }, r);
  assert.match(tx.text, /^flush map inet vipgate frontends4\nadd element inet vipgate frontends4 \{ 10\.200\.0\.5 \. udp/);
  const baseChanged = text.replace('\t\tmeta mark & 0x00100000 == 0x00100000 masquerade\n', '');
  assert.equal(findDrift(parseListing(baseChanged), installedFrom(r), options).fullReplace, true);
});

test('drift: listed elements compare after normalizing address text', () => {
  const r = renderTable(MIXED, options);
  const text = renderTableText(r, options).replace('fd00:180::/64', 'fd00:180:0:0::/64');
  assert.deepEqual(findDrift(parseListing(text), installedFrom(r), options).what, []);
});
