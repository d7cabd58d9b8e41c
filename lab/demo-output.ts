// How the demo prints: numbered steps in bold (on a terminal), commands and their output indented.
export const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

export const say = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};

export const step = (n: number, title: string): void => {
  say();
  say(bold(`── ${n}. ${title}`));
};

export const indent = (text: string): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');

/** A check that marks a failed expectation in the output (`!!`) and remembers it. */
export function checker(): { check(cond: boolean, what: string): void; readonly ok: boolean } {
  let ok = true;
  return {
    check(cond, what) {
      if (!cond) {
        ok = false;
        say(`   !! ${what}`);
      }
    },
    get ok() {
      return ok;
    },
  };
}

export interface DemoRun {
  readonly keep: boolean;
  /** The lab's name prefix (`vg<hex>`). */
  readonly prefix: string;
  /** Commands to suggest when the lab stays up. */
  readonly explore: readonly string[];
  readonly removeHandlers: () => void;
  readonly down: () => Promise<void>;
}

/** Runs the walk, then removes the lab (or says how to explore it with --keep) and prints the verdict; the exit code. */
export async function walkThenFinish(run: DemoRun, walk: () => Promise<boolean>): Promise<number> {
  let ok: boolean;
  try {
    ok = await walk();
  } finally {
    run.removeHandlers();
    say();
    if (run.keep) {
      say(bold('── The lab stays up (--keep). Explore, e.g.:'));
      for (const line of run.explore) say(`   ${line}`);
      say(`   bin/vipgate lab down ${run.prefix}     # removes it`);
    } else {
      await run.down();
      say(bold(`── Lab ${run.prefix} removed.`));
    }
  }
  say(ok ? 'Demo finished: every step behaved as described.' : 'Demo finished WITH FAILURES (marked !! above).');
  return ok ? 0 : 1;
}
