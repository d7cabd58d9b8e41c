import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { renderReplace, transactionText } from './diff.ts';
import { MAX_SLOTS, normalizeCidrs, pickRule, renderTable, sameInput, skeletonText, slotCounts, type RenderOptions, type RenderedFrontend } from './render.ts';
import { MIXED, backend, frontend, table } from './testdata/fixtures.ts';
import { parseCidr } from '../../net/index.ts';

const options: RenderOptions = { masqueradeMark: 0x00100000 };

/** Compares with testdata/<name>.nft; UPDATE_GOLDEN=1 rewrites the file instead. */
function golden(name: string, actual: string): void {
  const path = new URL(`./testdata/${name}.nft`, import.meta.url);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(path, actual);
  assert.equal(actual, readFileSync(path, 'utf8'), `${name}.nft differs; rerun with UPDATE_GOLDEN=1 if the change is intended`);
}

const one = (f: Parameters<typeof renderTable>[0]['frontends'][number]): RenderedFrontend =>
  renderTable(table([f])).frontends.get(f.key)!.rendered;

/** The text of rendered slots or prefixes, as nft lists them. */
const texts = (values: readonly ({ readonly text: string } | undefined)[]): (string | undefined)[] => values.map((v) => v?.text);

test('a table with one frontend of each shape renders as the golden file', () => {
  const rendered = renderTable(MIXED);
  assert.deepEqual(rendered.problems, []);
  golden('mixed', transactionText(renderReplace(rendered, options)));
});

test('an empty table still has its skeleton, so that later applies only add elements', () => {
  golden('empty', transactionText(renderReplace(renderTable(table([])), options)));
});

test('the rules are the same whatever the services: only elements and pick chains follow them', () => {
  const skeleton = skeletonText(options);
  const big = transactionText(renderReplace(renderTable(table(Array.from({ length: 50 }, (_, i) => frontend(`10.200.1.${i + 1}`, 80)))), options));
  assert.ok(big.includes(skeleton.trimEnd()));
  const rules = big.split('\n').filter((l) => l.startsWith('add rule '));
  assert.deepEqual(rules, [
    'add rule inet vipgate pick4_tcp_random_2 dnat ip to ip daddr . meta l4proto . tcp dport . numgen random mod 2 map @backends4tcp',
  ]);
});

test('only ready backends with weight take new flows; with none, the frontend is closed and has no verdict', () => {
  const r = renderTable(MIXED);
  const udp = r.frontends.get('10.200.0.5:53/udp')!.rendered;
  assert.ok(!udp.slots.some((s) => s?.text.startsWith('10.100.1.43 ')), 'terminating backend gets no new flows');
  const draining = r.frontends.get('10.200.0.7:80/tcp')!.rendered;
  assert.deepEqual([draining.verdict, draining.slots, draining.closed, draining.counter], [undefined, [], true, true]);
  const open = r.frontends.get('10.200.0.5:80/tcp')!.rendered;
  assert.deepEqual([open.verdict, open.closed], ['goto pick4_tcp_random_2', false]);
  const zero = one(frontend('10.200.0.9', 80, { backends: [backend('10.0.0.1', 80, { weight: 0 })] }));
  assert.equal(zero.closed, true);
});

test('weights become repeated slots: a backend gets new flows in proportion to its weight', () => {
  const f = frontend('10.200.0.9', 80, {
    backends: [backend('10.0.0.3', 80, { weight: 3 }), backend('10.0.0.1', 80, { weight: 1 }), backend('10.0.0.2', 80, { weight: 2 })],
  });
  const r = one(f);
  assert.equal(r.verdict, 'goto pick4_tcp_random_6');
  const share = (value: string): number => r.slots.filter((s) => s?.text === value).length / r.slots.length;
  assert.deepEqual([share('10.0.0.1 . 80'), share('10.0.0.2 . 80'), share('10.0.0.3 . 80')], [1 / 6, 2 / 6, 3 / 6]);
  assert.equal(one({ ...f, sessionAffinity: 'ClientIP' }).verdict, 'goto pick4_tcp_hash_6');
  // Divided by their gcd: 10 and 30 are 1 and 3.
  const g = one(frontend('10.200.0.9', 80, { snat: 'none', backends: [backend('10.0.0.1', 80, { weight: 10 }), backend('10.0.0.2', 80, { weight: 30 })] }));
  assert.deepEqual(texts(g.slots), ['10.0.0.1 . 80', '10.0.0.2 . 80', '10.0.0.2 . 80', '10.0.0.2 . 80']);
  assert.equal(g.masquerade, false, 'snat none: no masquerade mark');
});

test('slot counts: at most MAX_SLOTS, at least one per backend, exact shares whenever they fit', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: MAX_SLOTS }), (weights) => {
      const counts = slotCounts(weights);
      const total = counts.reduce((a, b) => a + b, 0);
      assert.equal(counts.length, weights.length);
      assert.ok(total <= MAX_SLOTS && counts.every((c) => c >= 1));
      const sum = weights.reduce((a, b) => a + b, 0);
      const exact = weights.every((w, i) => counts[i]! * sum === w * total);
      if (exact) return;
      // Scaled: each share within one slot of its exact value (after the one-slot floor).
      assert.equal(total, MAX_SLOTS);
      weights.forEach((w, i) => assert.ok(Math.abs(counts[i]! - 1 - (w * (MAX_SLOTS - weights.length)) / sum) < 1 + 1e-9));
    }),
  );
});

test('more ready backends than MAX_SLOTS: the first MAX_SLOTS serve, and it is reported', () => {
  const many = Array.from({ length: MAX_SLOTS + 4 }, (_, i) => backend(`10.0.${i >> 8}.${i & 255}`, 80));
  const r = renderTable(table([frontend('10.200.0.9', 80, { backends: many })]));
  const f = r.frontends.get('10.200.0.9:80/tcp')!.rendered;
  assert.equal(f.slots.length, MAX_SLOTS);
  assert.equal(f.verdict, `goto pick4_tcp_random_${MAX_SLOTS}`);
  assert.match(r.problems[0]!.message, /260 ready backends; only the first 256/);
});

test('a frontend with a bad backend is rendered closed to everyone and reported; the others are served', () => {
  const bad = frontend('10.200.0.9', 80, { backends: [backend('10.0.0.01', 80)] });
  const good = frontend('10.200.0.10', 80);
  const r = renderTable(table([bad, good]));
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!.message, /10\.0\.0\.01/);
  const closed = r.frontends.get('10.200.0.9:80/tcp')!.rendered;
  assert.deepEqual([closed.verdict, closed.restricted, closed.allow, closed.closed], [undefined, true, [], true]);
  assert.equal(r.frontends.get('10.200.0.10:80/tcp')!.rendered.slots.length, 2);
});

test('source ranges: covered prefixes dropped, an empty list admits nobody', () => {
  const r = renderTable(MIXED);
  const ranged = r.frontends.get('10.200.0.6:443/tcp')!.rendered;
  assert.deepEqual([ranged.restricted, texts(ranged.allow)], [true, ['10.1.2.3', '192.168.0.0/16']]);
  // The structures behind the text: the host bare, the prefix parsed.
  assert.deepEqual(ranged.allow.map((p) => p.cidr), [parseCidr('10.1.2.3/32'), parseCidr('192.168.0.0/16')]);
  const nobody = r.frontends.get('10.200.0.8:80/tcp')!.rendered;
  assert.deepEqual([nobody.restricted, nobody.allow], [true, []]);
  assert.equal(r.frontends.get('10.200.0.5:80/tcp')!.rendered.restricted, false);
  assert.deepEqual(texts(r.deny[4]), ['10.180.0.0/16', '10.181.0.7']);
  assert.deepEqual(texts(r.deny[6]), ['fd00:180::/64']);
});

test('an unchanged frontend reuses its rendering; a changed one is rendered again', () => {
  const first = renderTable(MIXED);
  const changed = MIXED.frontends.map((f) => (f.key === '10.200.0.5:80/tcp' ? { ...f, backends: f.backends.slice(1) } : { ...f }));
  const second = renderTable(table(changed, [...MIXED.denySources]), first.frontends);
  for (const [key, entry] of second.frontends) {
    assert.equal(entry === first.frontends.get(key), key !== '10.200.0.5:80/tcp', key);
  }
  assert.deepEqual(texts(second.frontends.get('10.200.0.5:80/tcp')!.rendered.slots), ['10.100.1.42 . 8080']);
});

test('a frontend counts as unchanged only when no field that rendering reads differs', () => {
  const f = frontend('10.200.0.9', 80, { allowedSources: ['10.0.0.0/8'] });
  const copy = { ...f, backends: f.backends.map((b) => ({ ...b })), allowedSources: ['10.0.0.0/8'] };
  assert.equal(sameInput(f, copy), true);
  const b0 = f.backends[0]!;
  const changes: Partial<typeof f>[] = [
    { address: '10.200.0.10' }, { port: 81 }, { protocol: 'udp' }, { sessionAffinity: 'ClientIP' }, { snat: 'none' },
    { allowedSources: 'any' }, { allowedSources: ['10.0.0.0/9'] }, { allowedSources: [] }, { backends: f.backends.slice(1) },
    { backends: [{ ...b0, address: '10.100.1.49' }, f.backends[1]!] }, { backends: [{ ...b0, port: 1 }, f.backends[1]!] },
    { backends: [{ ...b0, weight: 2 }, f.backends[1]!] }, { backends: [{ ...b0, state: 'terminating' }, f.backends[1]!] },
  ];
  for (const change of changes) assert.equal(sameInput(f, { ...f, ...change }), false, JSON.stringify(change));
});

test('pick chain names map to one rule each; anything else is not a pick chain', () => {
  assert.equal(pickRule('pick6_udp_hash_3'), 'dnat ip6 to ip6 daddr . meta l4proto . udp dport . jhash ip6 saddr mod 3 seed 0x76697067 map @backends6udp');
  for (const name of ['pick4_tcp_random_0', `pick4_tcp_random_${MAX_SLOTS + 1}`, 'pick4_tcp_random_07', 'pick5_tcp_random_2', 'fe_x', 'pick4_sctp_random_2']) {
    assert.equal(pickRule(name), undefined, name);
  }
});

test('normalizeCidrs never keeps a prefix that another kept prefix covers', () => {
  const prefix = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 8, max: 32 }));
  fc.assert(
    fc.property(fc.array(prefix, { maxLength: 20 }), (items) => {
      const texts = items.map(([a, b, len]) => {
        const value = ((10 << 24) | (a << 16) | (b << 8)) >>> 0;
        const masked = len === 32 ? value : (value & ~((1 << (32 - len)) - 1)) >>> 0;
        return `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${len}`;
      });
      const { cidrs } = normalizeCidrs(texts, 4);
      for (let i = 1; i < cidrs.length; i++) {
        const prev = cidrs[i - 1]!;
        const end = prev.network + (1n << BigInt(32 - prev.prefixLength));
        assert.ok(cidrs[i]!.network >= end, 'kept prefixes are disjoint and sorted');
      }
      // Every input address range is still covered.
      for (const t of texts) {
        const [addr, len] = t.split('/') as [string, string];
        const v = addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
        assert.ok(cidrs.some((c) => c.prefixLength <= Number(len) && (v >> BigInt(32 - c.prefixLength)) === (c.network >> BigInt(32 - c.prefixLength))));
      }
    }),
  );
});
