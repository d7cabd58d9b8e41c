import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { diffTables, renderReplace } from './diff.ts';
import { parseListing, tableBlock } from './listing.ts';
import { compareInstalled, installedFromListing, skeletonDrift } from './readback.ts';
import { renderTable, type RenderOptions } from './render.ts';
import { MIXED } from './testdata/fixtures.ts';

const options: RenderOptions = { masqueradeMark: 0x00100000 };

// `nft list table inet vipgate` as nft 1.0.6 printed it after loading testdata/mixed.nft
// (kernel 6.18): the kernel's own ordering, wrapping and forms, not ours.
const LISTED = readFileSync(new URL('./testdata/mixed.listed.txt', import.meta.url), 'utf8');

test('the table nft lists back is read as exactly what was rendered: nothing to write, no drift', () => {
  const listing = parseListing(LISTED);
  assert.deepEqual(skeletonDrift(listing, options), []);
  const kernel = installedFromListing(listing);
  assert.deepEqual(diffTables(kernel, renderTable(MIXED)).lines, []);
  const ours = renderReplace(renderTable(MIXED), options).after;
  assert.deepEqual(compareInstalled(ours, kernel).what, []);
});

test('a restarted agent with a changed table writes only the difference against what the kernel has', () => {
  const kernel = installedFromListing(parseListing(LISTED));
  const changed = { ...MIXED, frontends: MIXED.frontends.map((f) => (f.key === '10.200.0.8:80/tcp' ? { ...f, allowedSources: 'any' as const } : f)) };
  assert.deepEqual(diffTables(kernel, renderTable(changed)).lines, ['delete element inet vipgate restricted4 { 10.200.0.8 . tcp . 80 }']);
});

test('drift: a slot deleted by hand is the only thing written back', () => {
  const listed = LISTED.replace('10.200.0.5 . tcp . 80 . 1 : 10.100.1.42 . 8080,\n\t\t\t     ', '');
  assert.notEqual(listed, LISTED);
  const ours = renderReplace(renderTable(MIXED), options).after;
  const { what, merged } = compareInstalled(ours, installedFromListing(parseListing(listed)));
  assert.deepEqual(what, ['frontend 10.200.0.5:80/tcp']);
  assert.deepEqual(diffTables(merged, renderTable(MIXED, ours.frontends)).lines, [
    'add element inet vipgate backends4tcp { 10.200.0.5 . tcp . 80 . 1 : 10.100.1.42 . 8080 }',
  ]);
});

test('drift: a verdict element deleted by hand, a stray element and a stray chain are repaired', () => {
  const listed = LISTED.replace('10.200.0.8 . tcp . 80 : goto pick4_tcp_random_2,\n\t\t\t     ', '')
    .replace('elements = { 10.200.0.7 . tcp . 80 }', 'elements = { 10.200.0.7 . tcp . 80, 10.200.0.99 . tcp . 80 }')
    .replace('\tchain pick6_tcp_random_2 {', '\tchain handmade {\n\t\tcounter\n\t}\n\n\tchain pick6_tcp_random_2 {');
  const ours = renderReplace(renderTable(MIXED), options).after;
  const { what, merged } = compareInstalled(ours, installedFromListing(parseListing(listed)));
  assert.deepEqual(what.sort(), ['frontend 10.200.0.8:80/tcp', 'stray chain handmade', 'stray frontend 10.200.0.99:80/tcp']);
  assert.deepEqual(diffTables(merged, renderTable(MIXED, ours.frontends)).lines, [
    'delete element inet vipgate closed4 { 10.200.0.99 . tcp . 80 }',
    'delete chain inet vipgate handmade',
    'add element inet vipgate frontends4 { 10.200.0.8 . tcp . 80 : goto pick4_tcp_random_2 }',
  ]);
});

test('a table of another layout, or with a changed base chain or set, is to be replaced whole', () => {
  assert.match(skeletonDrift(parseListing(LISTED.replace('vipgate nftables layout 4', 'vipgate nftables layout 3')), options)[0]!, /layout "vipgate nftables layout 3"/);
  assert.match(skeletonDrift(parseListing(LISTED.replace('\tcomment "vipgate nftables layout 4"\n', '')), options)[0]!, /layout "\(none\)"/);
  const noMasq = LISTED.replace('\t\tmeta mark & 0x00100000 == 0x00100000 masquerade\n', '');
  assert.deepEqual(skeletonDrift(parseListing(noMasq), options), ['chain nat_postrouting']);
  const noDeny = LISTED.replace(/\tset deny6 \{[^}]*\}[^}]*\}\n/, '');
  assert.deepEqual(skeletonDrift(parseListing(noDeny), options), ['set deny6 missing']);
  assert.deepEqual(skeletonDrift(parseListing(LISTED), { masqueradeMark: 0x4000 }).length, 3, 'another mark: both nat chains and postrouting differ');
});

test('listed elements compare after normalizing address text; counters are read per element', () => {
  const listing = parseListing(LISTED.replace('fd00:180::/64', 'fd00:180:0:0::/64').replace('fd00:200::5 . tcp . 80 counter packets 0 bytes 0', 'fd00:200::5 . tcp . 80 counter packets 7 bytes 420'));
  const ours = renderReplace(renderTable(MIXED), options).after;
  assert.deepEqual(compareInstalled(ours, installedFromListing(listing)).what, []);
  assert.deepEqual(listing.sets.get('counters6')?.counts.get('fd00:200::5 . tcp . 80'), { packets: 7n, bytes: 420n });
});

test('the table is found in a listing of the whole ruleset, other tables left out', () => {
  const ours = 'table inet vipgate {\n\tcomment "vipgate nftables layout 4"\n\tchain filter4 {\n\t\tct state established,related accept\n\t}\n}';
  const other = 'table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}';
  const other2 = 'table inet vipgate2 {\n}';
  assert.equal(tableBlock(`${other}\n${ours}\n${other2}\n`, 'inet vipgate'), ours);
  assert.equal(tableBlock(`${ours}\n`, 'inet vipgate'), ours);
  assert.equal(tableBlock(`${other}\n${other2}\n`, 'inet vipgate'), undefined);
  assert.equal(tableBlock('', 'inet vipgate'), undefined);
  assert.deepEqual([...parseListing(tableBlock(`${other}\n${ours}\n`, 'inet vipgate')!).chains.keys()], ['filter4']);
});
