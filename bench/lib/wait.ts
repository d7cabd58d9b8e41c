// Waiting for what a benchmark observes: a condition polled to a deadline, and lines of a
// monitor process (`ip monitor route`) with the time each arrived.
import type { LabProcess } from '../../lab/lab.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it gives a value; throws after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Lines of `ip monitor route` as they arrive, with their arrival time. */
export function monitorLines(proc: LabProcess): { wait(pattern: RegExp, since: number, timeoutMs: number): Promise<number> } {
  const seen: { at: number; line: string }[] = [];
  let partial = '';
  proc.child.stdout?.on('data', (chunk: string | Buffer) => {
    const at = performance.now();
    const text = partial + chunk.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) seen.push({ at, line });
  });
  return {
    async wait(pattern, since, timeoutMs) {
      const hit = await until(`${pattern} in ip monitor`, () => Promise.resolve(seen.find((s) => s.at >= since && pattern.test(s.line))), timeoutMs, 2);
      return hit.at;
    },
  };
}
