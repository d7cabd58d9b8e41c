// The shipped monitoring against a real Prometheus (Debian's prometheus 2.42) scraping a lab LB
// node: every dashboard panel's query returns data from a real agent, and the BGP-session alert
// fires when the router cuts the session and clears when it comes back.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBgpWalkthrough, type BgpWalkthroughLab } from '../lab/scenario-bgp.ts';
import { DEMO } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';

const MONITORING = join(import.meta.dirname, '..', 'deploy', 'monitoring');
const PROMETHEUS = 'http://127.0.0.1:19090';
const AGENT = '127.0.0.1:9470';

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}
interface AlertsAnswer {
  data: { alerts: { labels: Record<string, string>; state: string }[] };
}

describe('monitoring with a real Prometheus scraping lb1', { concurrency: false }, () => {
  let w: BgpWalkthroughLab;

  /** GET on Prometheus's HTTP API, from inside lb1's namespace (where it listens). */
  const api = async <T>(path: string): Promise<T> => JSON.parse(await w.lab.exec('lb1', ['curl', '-sf', '-m', '2', `${PROMETHEUS}${path}`])) as T;
  const query = async (expr: string): Promise<unknown[]> =>
    (await api<{ data: { result: unknown[] } }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).data.result;
  const sessionDownAlerts = async (): Promise<AlertsAnswer['data']['alerts']> =>
    (await api<AlertsAnswer>('/api/v1/alerts')).data.alerts.filter((a) => a.labels['alertname'] === 'VipgateBgpSessionDown');

  before(async () => {
    w = await startBgpWalkthrough();
    await eventually('lb1 Established with the router', async () => (await w.birdProtocols()).get('lb1v4') === 'Established', 30_000);
    const dir = join(w.dir, 'prometheus');
    mkdirSync(dir);
    // The shipped rules, with the session alert's `for: 1m` cut to 2 s so the lab need not wait a
    // minute (its timing is promtool's job: deploy/monitoring/vipgate-rules.test.yaml).
    const rules = readFileSync(join(MONITORING, 'vipgate-rules.yaml'), 'utf8').replace(
      /(- alert: VipgateBgpSessionDown\n\s+expr: [^\n]+\n\s+for: )1m/,
      '$12s',
    );
    assert.match(rules, /VipgateBgpSessionDown\n\s+expr: [^\n]+\n\s+for: 2s/, 'the rule file changed shape');
    writeFileSync(join(dir, 'rules.yaml'), rules);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [${join(dir, 'rules.yaml')}]
scrape_configs:
  - job_name: vipgate-agent
    static_configs: [{ targets: ['${AGENT}'] }]
`,
    );
    await w.lab.spawn('lb1', ['prometheus', `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, '--web.listen-address=127.0.0.1:19090']);
    await eventually('Prometheus to scrape the agent', async () => {
      const targets = await api<{ data: { activeTargets: { health: string }[] } }>('/api/v1/targets');
      return targets.data.activeTargets.some((t) => t.health === 'up');
    }, 30_000, 250);
  });
  after(async () => {
    await w.down();
  });

  test('every dashboard panel query returns data from the agent', async () => {
    const dashboard = JSON.parse(readFileSync(join(MONITORING, 'vipgate-dashboard.json'), 'utf8')) as Dashboard;
    assert.ok(dashboard.panels.length >= 8);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        // What Grafana would send with "All" LB nodes and a 1-minute rate interval.
        const expr = target.expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m');
        await eventually(`data for the panel "${panel.title}" (${expr})`, async () => (await query(expr)).length > 0, 30_000, 500);
      }
    }
  });

  test('the BGP-session alert fires when the router cuts the session, and clears when it returns', async () => {
    assert.deepEqual(await sessionDownAlerts(), []);
    await w.bird.birdc(['disable', 'lb1v4']);
    const firing = await eventually('VipgateBgpSessionDown firing', async () => {
      const alerts = (await sessionDownAlerts()).filter((a) => a.state === 'firing');
      return alerts.length > 0 ? alerts : undefined;
    }, 30_000, 250);
    assert.deepEqual(firing.map((a) => [a.labels['instance'], a.labels['peer'], a.labels['severity']]), [[AGENT, DEMO.router.datacenter.v4, 'warning']]);
    await w.bird.birdc(['enable', 'lb1v4']);
    await eventually('VipgateBgpSessionDown cleared', async () => (await sessionDownAlerts()).length === 0, 60_000, 250);
  });
});
