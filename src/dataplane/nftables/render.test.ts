import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { frontendId, normalizeCidrs, renderReplace, renderTable, type RenderOptions } from './render.ts';
import { MIXED, backend, frontend, table } from './testdata/fixtures.ts';

const options: RenderOptions = { masqueradeMark: 0x00100000 };

/** Compares with testdata/<name>.nft; UPDATE_GOLDEN=1 rewrites the file instead. */
function golden(name: string, actual: string): void {
  const path = new URL(`./testdata/${name}.nft`, import.meta.url);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(path, actual);
  assert.equal(actual, readFileSync(path, 'utf8'), `${name}.nft differs; rerun with UPDATE_GOLDEN=1 if the change is intended`);
}

test('a table with one frontend of each shape renders as the golden file', () => {
  const rendered = renderTable(MIXED, options);
  assert.deepEqual(rendered.problems, []);
  golden('mixed', renderReplace(rendered, options));
});

test('an empty table still has its skeleton, so that later applies only add elements', () => {
  golden('empty', renderReplace(renderTable(table([]), options), options));
});

test('only ready backends with weight take new flows; with none, new flows are rejected', () => {
  const r = renderTable(MIXED, options);
  const udp = r.frontends.get('10_200_0_5_udp_53')!;
  assert.ok(!udp.natRules.join('\n').includes('10.100.1.43'), 'terminating backend gets no new flows');
  const draining = r.frontends.get('10_200_0_7_tcp_80')!;
  assert.deepEqual(draining.natRules, []);
  assert.ok(draining.filterRules.includes('ct state new reject'));
  const open = r.frontends.get('10_200_0_5_tcp_80')!;
  assert.ok(!open.filterRules.includes('ct state new reject'));
});

test('weights split new flows in proportion: random draws and ClientIP hash ranges', () => {
  // Random: each rule takes w_i of the weight still left; simulate the chain exactly.
  const f = frontend('10.200.0.9', 80, {
    backends: [backend('10.0.0.1', 80, { weight: 1 }), backend('10.0.0.2', 80, { weight: 2 }), backend('10.0.0.3', 80, { weight: 3 })],
  });
  const rules = renderTable(table([f]), options).frontends.get('10_200_0_9_tcp_80')!.natRules.filter((r) => r.includes('dnat'));
  const share = new Map<string, number>();
  let reach = 1;
  for (const rule of rules) {
    const m = /mod (\d+) < (\d+)/.exec(rule);
    const p = m === null ? 1 : Number(m[2]) / Number(m[1]);
    const target = /to (\S+)$/.exec(rule)![1]!;
    share.set(target, reach * p);
    reach *= 1 - p;
  }
  assert.ok(Math.abs(share.get('10.0.0.1:80')! - 1 / 6) < 1e-9);
  assert.ok(Math.abs(share.get('10.0.0.2:80')! - 2 / 6) < 1e-9);
  assert.ok(Math.abs(share.get('10.0.0.3:80')! - 3 / 6) < 1e-9);
  const sticky = renderTable(table([{ ...f, sessionAffinity: 'ClientIP' }]), options).frontends.get('10_200_0_9_tcp_80')!;
  assert.match(sticky.natRules[1]!, /jhash ip saddr mod 6 seed 0x[0-9a-f]+ < 1 dnat ip to 10\.0\.0\.1:80$/);
  assert.match(sticky.natRules[2]!, /jhash ip saddr mod 6 seed 0x[0-9a-f]+ < 3 dnat ip to 10\.0\.0\.2:80$/);
  assert.match(sticky.natRules[3]!, /^meta l4proto tcp dnat ip to 10\.0\.0\.3:80$/);
});

test('weights are divided by their gcd, and snat none sets no mark', () => {
  const f = frontend('10.200.0.9', 80, { snat: 'none', backends: [backend('10.0.0.1', 80, { weight: 10 }), backend('10.0.0.2', 80, { weight: 30 })] });
  const rules = renderTable(table([f]), options).frontends.get('10_200_0_9_tcp_80')!.natRules;
  assert.deepEqual(rules, ['meta l4proto tcp numgen random mod 4 < 1 dnat ip to 10.0.0.1:80', 'meta l4proto tcp dnat ip to 10.0.0.2:80']);
});

test('a frontend with a bad backend is rendered closed and reported; the others are served', () => {
  const bad = frontend('10.200.0.9', 80, { backends: [backend('10.0.0.01', 80)] });
  const good = frontend('10.200.0.10', 80);
  const r = renderTable(table([bad, good]), options);
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!.message, /10\.0\.0\.01/);
  assert.deepEqual(r.frontends.get('10_200_0_9_tcp_80')!.filterRules[0], 'drop');
  assert.equal(r.frontends.get('10_200_0_10_tcp_80')!.natRules.length, 3);
});

test('source ranges: covered prefixes dropped, an empty list admits nobody', () => {
  const r = renderTable(MIXED, options);
  assert.deepEqual(r.frontends.get('10_200_0_6_tcp_443')!.allow, ['10.200.0.6 . tcp . 443 . 10.1.2.3', '10.200.0.6 . tcp . 443 . 192.168.0.0/16']);
  assert.ok(r.frontends.get('10_200_0_8_tcp_80')!.filterRules.includes('drop'));
  assert.deepEqual(r.deny[4], ['10.180.0.0/16', '10.181.0.7']);
  assert.deepEqual(r.deny[6], ['fd00:180::/64']);
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

test('frontend ids are valid nft names and distinct across families', () => {
  assert.equal(frontendId({ address: '10.200.0.5', protocol: 'tcp', port: 80 }), '10_200_0_5_tcp_80');
  assert.equal(frontendId({ address: 'fd00:200::5', protocol: 'udp', port: 53 }), 'fd00_200__5_udp_53');
  assert.notEqual(frontendId({ address: '1.2.3.4', protocol: 'tcp', port: 80 }), frontendId({ address: '1:2:3:4::', protocol: 'tcp', port: 80 }));
  const longest = `fe_${frontendId({ address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', protocol: 'udp', port: 65535 })}`;
  assert.ok(longest.length < 256, 'kernel chain names hold 255 bytes');
  assert.match(longest, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
});
