// The shipped Prometheus rules (deploy/monitoring/) checked by Prometheus's own tool: the rule file
// is valid, every alert fires and stays quiet where its series say (`promtool test rules`), every
// alert has such a case, and every metric a rule or a dashboard panel reads is one that vipgate's
// agents or controller really export (so a renamed metric cannot leave an alert silently watching
// nothing, or a panel empty).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { createAgentMetrics, registerBgpMetrics, registerDrainMetrics } from '../src/agent/metrics.ts';
import { registerL2Metrics } from '../src/agent/metrics-l2.ts';
import { registerControllerMetrics } from '../src/cli/controller-command.ts';

const dir = join(import.meta.dirname, '..', 'deploy', 'monitoring');
const RULES = 'vipgate-rules.yaml';
const TESTS = 'vipgate-rules.test.yaml';
const DASHBOARD = 'vipgate-dashboard.json';

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}
interface TestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`promtool (Debian package prometheus) could not run: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const rules = parse(readFileSync(join(dir, RULES), 'utf8')) as RuleFile;
const all = rules.groups.flatMap((g) => g.rules);

test('promtool check rules: the rule file is valid', () => {
  const r = promtool('check', 'rules', RULES);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, new RegExp(`SUCCESS: ${all.length} rules found`));
});

test('promtool test rules: each alert fires on its series, with its labels and words, and not on the others', () => {
  const r = promtool('test', 'rules', TESTS);
  assert.equal(r.status, 0, r.output);
});

test('every alert has a case where it fires', () => {
  const tests = parse(readFileSync(join(dir, TESTS), 'utf8')) as TestFile;
  const firing = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname)));
  const alerts = all.flatMap((r) => (r.alert === undefined ? [] : [r.alert]));
  assert.ok(alerts.length >= 10);
  assert.deepEqual(alerts.filter((a) => !firing.has(a)), []);
});

/** Every metric name vipgate's agents and controller export, as a query names it. */
async function exportedMetrics(): Promise<Set<string>> {
  const registry = new Registry();
  const agent = createAgentMetrics(() => undefined);
  registerBgpMetrics(agent.registry, () => []);
  registerDrainMetrics(agent.registry, () => ({ state: 'not-drained', since: new Date(0).toISOString(), requestedBy: [] }));
  registerL2Metrics(agent.registry, () => undefined);
  registerControllerMetrics(registry, { leading: () => false, health: () => ({ ok: false, refusals: 0 }), current: () => undefined });
  const exported = new Set<string>();
  for (const r of [agent.registry, registry]) {
    for (const m of await r.getMetricsAsJSON()) {
      exported.add(m.name);
      // A histogram is read as its _bucket, _sum and _count series.
      if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${m.name}${suffix}`);
    }
  }
  return exported;
}

const metricsIn = (exprs: string[]): Set<string> => new Set(exprs.flatMap((e) => [...e.matchAll(/\b(vipgate[a-z0-9_:]*)/g)].map((m) => m[1]!)));

test('every metric the rules read is one vipgate exports', async () => {
  const exported = await exportedMetrics();
  const recorded = new Set(all.flatMap((r) => (r.record === undefined ? [] : [r.record])));
  const unknown = [...metricsIn(all.map((r) => r.expr))].filter((name) => !exported.has(name) && !recorded.has(name));
  assert.deepEqual(unknown, [], `the rules read metrics nobody exports (exported: ${[...exported].filter((n) => n.startsWith('vipgate_')).join(', ')})`);
});

test('every metric a dashboard panel reads is one vipgate exports', async () => {
  const exported = await exportedMetrics();
  const dashboard = JSON.parse(readFileSync(join(dir, DASHBOARD), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  assert.ok(exprs.some((e) => e.includes('vipgate_l2_')) && exprs.some((e) => e.includes('vipgate_bgp_')));
  assert.deepEqual([...metricsIn(exprs)].filter((name) => !exported.has(name)), []);
});
