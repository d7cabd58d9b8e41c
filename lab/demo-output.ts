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
