// A real Prometheus (Debian's prometheus) inside a lab namespace, loaded with the shipped rules and
// scraping lab agents, and the shipped dashboard's panels by row: the monitoring lab tests check
// each panel against agents in the mode its row is for.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../lab/lab.ts';
import { eventually } from './eventually.ts';

export const MONITORING = join(import.meta.dirname, '..', '..', 'deploy', 'monitoring');
const LISTEN = '127.0.0.1:19090';

export interface Alert {
  readonly labels: Record<string, string>;
  readonly state: string;
}

export interface LabPrometheus {
  /** The result vector of an instant query (empty: no data). */
  query(expr: string): Promise<unknown[]>;
  /** The alerts named `name`, pending or firing. */
  alerts(name: string): Promise<Alert[]>;
}

export interface PrometheusOptions {
  /** The namespace it runs in; the API answers on 127.0.0.1 there. */
  readonly host: string;
  /** A directory for its config and data. */
  readonly dir: string;
  /** host:port of each agent's /metrics. */
  readonly targets: readonly string[];
  /** Alerts whose `for:` is cut to 2 s, so the lab need not wait for it (promtool tests the real timing). */
  readonly quickAlerts: readonly string[];
}

/** The shipped rule file with the named alerts' `for:` cut to 2 s. */
export function rulesWithQuickAlerts(names: readonly string[]): string {
  let rules = readFileSync(join(MONITORING, 'vipgate-rules.yaml'), 'utf8');
  for (const name of names) {
    const shape = new RegExp(`(- alert: ${name}\\n\\s+expr: [^\\n]+\\n\\s+for: )\\w+`);
    assert.match(rules, shape, `the rule ${name} changed shape`);
    rules = rules.replace(shape, '$12s');
  }
  return rules;
}

/** Starts Prometheus (stopped by `lab.down()`) and waits until it scrapes every target. */
export async function startPrometheus(lab: Lab, o: PrometheusOptions): Promise<LabPrometheus> {
  mkdirSync(o.dir, { recursive: true });
  writeFileSync(join(o.dir, 'rules.yaml'), rulesWithQuickAlerts(o.quickAlerts));
  writeFileSync(
    join(o.dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [${join(o.dir, 'rules.yaml')}]
scrape_configs:
  - job_name: vipgate-agent
    static_configs: [{ targets: [${o.targets.map((t) => `'${t}'`).join(', ')}] }]
`,
  );
  await lab.spawn(o.host, ['prometheus', `--config.file=${join(o.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(o.dir, 'data')}`, `--web.listen-address=${LISTEN}`]);
  const api = async <T>(path: string): Promise<T> => JSON.parse(await lab.exec(o.host, ['curl', '-sf', '-m', '2', `http://${LISTEN}${path}`])) as T;
  await eventually(
    `Prometheus to scrape ${o.targets.join(', ')}`,
    async () => {
      const targets = await api<{ data: { activeTargets: { health: string }[] } }>('/api/v1/targets');
      return targets.data.activeTargets.filter((t) => t.health === 'up').length === o.targets.length;
    },
    30_000,
    250,
  );
  return {
    query: async (expr) => (await api<{ data: { result: unknown[] } }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).data.result,
    alerts: async (name) => (await api<{ data: { alerts: Alert[] } }>('/api/v1/alerts')).data.alerts.filter((a) => a.labels['alertname'] === name),
  };
}

export interface DashboardQuery {
  readonly row: string;
  readonly panel: string;
  /** The query as Grafana would send it with "All" LB nodes and a 1-minute rate interval. */
  readonly expr: string;
}

/** Every query of the shipped dashboard, with the title of the row it sits under. */
export function dashboardQueries(): DashboardQuery[] {
  const dashboard = JSON.parse(readFileSync(join(MONITORING, 'vipgate-dashboard.json'), 'utf8')) as {
    panels: { type: string; title: string; targets?: { expr: string }[] }[];
  };
  const out: DashboardQuery[] = [];
  let row = '';
  for (const panel of dashboard.panels) {
    if (panel.type === 'row') row = panel.title;
    for (const t of panel.targets ?? []) out.push({ row, panel: panel.title, expr: t.expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m') });
  }
  return out;
}

/** Waits until each query returns data. */
export async function assertQueriesReturnData(prometheus: LabPrometheus, queries: readonly DashboardQuery[]): Promise<void> {
  for (const q of queries) {
    await eventually(`data for the panel "${q.panel}" (${q.expr})`, async () => (await prometheus.query(q.expr)).length > 0, 30_000, 500);
  }
}
