// `vipgate explain <target>`: asks each agent given (`--api`, repeated or a comma list) and joins
// their answers; with `--kubeconfig`, reads the cluster's objects instead (docs/design/018-explain.md).
import { parseTarget, type Explanation } from '../api/explain.ts';
import { apiGet, DEFAULT_API } from './client.ts';
import { formatExplain, joinAnswers, type ExplainAnswer } from './format-explain.ts';

export interface ExplainOptions {
  readonly api: readonly string[];
  readonly output: string;
  readonly sample: string;
  /** Kubernetes: walk the cluster's objects instead of asking agents. */
  readonly kubeconfig?: string;
  readonly defaultLoadBalancerClass?: boolean;
}

/** Prints the explanation; the exit status is 0 when some agent serves the target, 1 otherwise, 2 for a bad target. */
export async function runExplain(target: string, opts: ExplainOptions): Promise<number> {
  const parsed = parseTarget(target);
  if ('error' in parsed) {
    process.stderr.write(`vipgate explain: ${parsed.error}\n`);
    return 2;
  }
  if (opts.kubeconfig !== undefined) {
    const { runKubeExplain } = await import('./kube-explain-command.ts');
    return runKubeExplain(parsed, { kubeconfig: opts.kubeconfig, output: opts.output, defaultLoadBalancerClass: opts.defaultLoadBalancerClass === true });
  }
  const apis = opts.api.length === 0 ? [DEFAULT_API] : opts.api;
  const sample = Number(opts.sample);
  if (!Number.isInteger(sample) || sample < 0 || sample > 5000) throw new Error(`--sample ${opts.sample}: milliseconds, an integer 0–5000`);
  const path = `/v1/explain?target=${encodeURIComponent(target)}&sample=${sample}`;
  const answers = await Promise.all(
    apis.map(async (api): Promise<ExplainAnswer> => {
      try {
        return { api, explanation: await apiGet<Explanation>(api, path, 5000 + sample) };
      } catch (error) {
        return { api, error: (error as Error).message };
      }
    }),
  );
  const report = joinAnswers(target, answers);
  process.stdout.write(opts.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatExplain(report));
  return report.served ? 0 : 1;
}
