// `vipgate explain <target>`: asks each agent given (`--api`, repeated or a comma list) and joins
// their answers (docs/design/018-explain.md).
import type { Explanation } from '../api/explain.ts';
import { apiGet, DEFAULT_API } from './client.ts';
import { formatExplain, joinAnswers, type ExplainAnswer } from './format-explain.ts';

export interface ExplainOptions {
  readonly api: readonly string[];
  readonly output: string;
  readonly sample: string;
}

/** Prints the explanation; the exit status is 0 when some agent serves the target, 1 otherwise. */
export async function runExplain(target: string, opts: ExplainOptions): Promise<number> {
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
  // A target the agents refuse as such (400) is a usage error, whichever agent says it.
  const refused = answers.find((a) => a.error?.includes('answered 400') === true);
  if (refused !== undefined && answers.every((a) => a.explanation === undefined)) throw new Error(refused.error);
  const report = joinAnswers(target, answers);
  process.stdout.write(opts.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatExplain(report));
  return report.served ? 0 : 1;
}
