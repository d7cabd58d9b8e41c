// curl as the probe: it is what a user types. Pure helpers build its argv and read its
// write-out lines; lab.ts runs it inside a namespace.

export interface CurlResult {
  /** True for a 2xx answer. */
  readonly ok: boolean;
  /** HTTP status, 0 when no answer arrived. */
  readonly status: number;
  readonly body: string;
  /** The answering backend's `x-backend` header, when there was one. */
  readonly backend: string | undefined;
  /** curl's own words for a failure (connection refused, timeout…). */
  readonly error: string | undefined;
}

export interface RequestOutcome {
  readonly ok: boolean;
  readonly status: number;
  readonly backend: string | undefined;
  readonly timeMs: number;
  readonly error: string | undefined;
}

export interface RequestLoopResult {
  /** One per finished request, in completion order; fewer than `count` when `maxMs` cut the loop. */
  readonly outcomes: readonly RequestOutcome[];
  readonly failed: number;
  /** Backends that answered, by name. */
  readonly backends: ReadonlySet<string>;
  /** True when the loop hit `maxMs` before all requests finished. */
  readonly cutShort: boolean;
}

const MARK = '\n--vipgate-probe--';

export function curlArgv(url: string, timeoutMs: number): string[] {
  return ['curl', '-sS', '-g', '-m', (timeoutMs / 1000).toFixed(3), '-w', `${MARK}%{http_code}\t%header{x-backend}`, url];
}

export function parseCurl(stdout: string, stderr: string, exitCode: number | null): CurlResult {
  const at = stdout.lastIndexOf(MARK);
  const body = at < 0 ? stdout : stdout.slice(0, at);
  const [code = '0', backend = ''] = at < 0 ? [] : stdout.slice(at + MARK.length).split('\t');
  const status = Number(code) || 0;
  const error = exitCode === 0 ? undefined : stderr.trim() || `curl exited with ${exitCode ?? 'a signal'}`;
  return { ok: exitCode === 0 && status >= 200 && status < 300, status, body, backend: backend.trim() || undefined, error };
}

const LOOP_FORMAT = '%{http_code}\\t%header{x-backend}\\t%{time_total}\\t%{exitcode}\\t%{errormsg}\\n';

/**
 * One curl for the whole loop (no process per request): `count` transfers, each on a fresh
 * connection (`Connection: close`) so that the balancer picks a backend for every request.
 */
export function requestLoopArgv(url: string, count: number, concurrency: number, timeoutMs: number): string[] {
  const argv = ['curl', '-s', '-g', '-m', (timeoutMs / 1000).toFixed(3), '-H', 'Connection: close', '-w', LOOP_FORMAT];
  if (concurrency > 1) argv.push('--parallel', '--parallel-immediate', '--parallel-max', String(concurrency));
  for (let i = 0; i < count; i += 1) argv.push('-o', '/dev/null', url);
  return argv;
}

export function parseRequestLoop(stdout: string, count: number): RequestLoopResult {
  const outcomes = stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line): RequestOutcome => {
      const [code = '0', backend = '', time = '0', exit = '1', ...message] = line.split('\t');
      const status = Number(code) || 0;
      const ok = exit === '0' && status >= 200 && status < 300;
      const errormsg = message.join('\t').trim();
      return { ok, status, backend: backend.trim() || undefined, timeMs: Number(time) * 1000, error: ok ? undefined : errormsg || `HTTP ${status}` };
    });
  const backends = new Set(outcomes.flatMap((o) => (o.ok && o.backend !== undefined ? [o.backend] : [])));
  return { outcomes, failed: outcomes.filter((o) => !o.ok).length, backends, cutShort: outcomes.length < count };
}

/** One request of `flow-probe.mjs`. `t` is its start, in ms since the epoch. */
export interface FlowSample {
  readonly t: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly backend?: string | null;
  /** The source address the pod saw: with SNAT, the LB node that carried the request. */
  readonly via?: string | null;
  readonly error?: string;
}

export function parseFlowSamples(stdout: string): FlowSample[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as FlowSample)
    .sort((a, b) => a.t - b.t);
}

export interface FailoverGap {
  /** ms from `sinceMs` to the start of the first request after which every request was good; undefined if that never came. */
  readonly gapMs: number | undefined;
  /** Requests started after `sinceMs` that were not good. */
  readonly bad: number;
  /** Requests started after `sinceMs`. */
  readonly total: number;
}

/**
 * How long after an event (`sinceMs`) traffic took to settle: the start of the earliest request
 * from which on every request was `good` (e.g. answered, and through lb2). Requests are taken in
 * start order, so a slow failure that started before the settling point still counts against it.
 */
export function failoverGap(samples: readonly FlowSample[], sinceMs: number, good: (s: FlowSample) => boolean): FailoverGap {
  const after = samples.filter((s) => s.t >= sinceMs).sort((a, b) => a.t - b.t);
  let lastBad = -1;
  after.forEach((s, i) => {
    if (!good(s)) lastBad = i;
  });
  const settled = after[lastBad + 1];
  return { gapMs: settled === undefined ? undefined : settled.t - sinceMs, bad: after.filter((s) => !good(s)).length, total: after.length };
}
