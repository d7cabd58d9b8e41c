// `vipgate explain`: the answers of one or several agents joined into one, as text.
import type { ExplainLink, Explanation } from '../api/explain.ts';

/** One agent's answer, or why there is none. */
export interface ExplainAnswer {
  readonly api: string;
  readonly explanation?: Explanation;
  readonly error?: string;
}

/** What `vipgate explain -o json` prints. */
export interface ExplainReport {
  readonly target: string;
  /** Some asked agent serves the target (every link ok or unknown there). */
  readonly served: boolean;
  /** The nodes that serve it. */
  readonly servedBy: readonly string[];
  readonly answers: readonly ExplainAnswer[];
}

export function joinAnswers(target: string, answers: readonly ExplainAnswer[]): ExplainReport {
  const servedBy = answers.flatMap((a) => (a.explanation?.served === true ? [a.explanation.node] : []));
  return { target, served: servedBy.length > 0, servedBy, answers };
}

const MARK: Record<ExplainLink['state'], string> = { ok: 'ok', broken: 'BROKEN', unknown: '?' };

function firstBroken(e: Explanation): ExplainLink | undefined {
  return e.links.find((l) => l.state === 'broken');
}

function chain(a: ExplainAnswer): string {
  if (a.explanation === undefined) return `${a.api}: no answer: ${a.error ?? 'unknown error'}\n`;
  const e = a.explanation;
  const width = Math.max(...e.links.map((l) => l.link.length));
  const lines = [`${e.node} (${a.api}):`];
  for (const l of e.links) {
    lines.push(`  ${MARK[l.state].padEnd(6)}  ${l.link.padEnd(width)}  ${l.says}`);
    if (l.fix !== undefined) lines.push(`  ${''.padEnd(6)}  ${''.padEnd(width)}  fix: ${l.fix}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One line per healthy target; otherwise the first broken link and its fix, then every chain. */
export function formatExplain(report: ExplainReport): string {
  const explained = report.answers.flatMap((a) => (a.explanation === undefined ? [] : [a.explanation]));
  const failing = report.answers.filter((a) => a.explanation?.served !== true);
  if (failing.length === 0 && explained.length > 0) {
    const summary = explained.map((e) => {
      const pick = (name: string): string => e.links.find((l) => l.link === name)?.says ?? '';
      return `by ${e.node} (${e.service ?? '?'}; ${pick('backends')}; ${pick('announcement')})`;
    });
    return `${report.target} is served ${summary.join(', ')}\n`;
  }
  const head: string[] = [];
  const by = report.servedBy.length > 0 ? ` (served by ${report.servedBy.join(', ')})` : '';
  const first = failing[0]!;
  const link = first.explanation === undefined ? undefined : firstBroken(first.explanation);
  if (explained.length === 0) head.push(`${report.target}: no agent answered`);
  else if (first.explanation === undefined) head.push(`${report.target}: no answer from ${first.api}${by}`);
  else if (link !== undefined) {
    head.push(`${report.target} is not served by ${first.explanation.node}${by}: ${link.link}: ${link.says}`);
    if (link.fix !== undefined) head.push(`  fix: ${link.fix}`);
  }
  return `${head.join('\n')}\n\n${report.answers.map(chain).join('\n')}`;
}
