import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, parseConfig } from './index.ts';

const examples = ['lb1.yaml', 'lb1-l2.yaml'].map((name) => readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8'));

/** Either a config, or a ConfigError whose every issue has a position and a readable line. */
function checkOutcome(text: string): void {
  try {
    parseConfig(text, 'x.yaml', { hostname: 'h' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    assert.ok(err.issues.length > 0);
    for (const issue of err.issues) {
      assert.ok(issue.line >= 1 && issue.column >= 1, JSON.stringify(issue));
      assert.ok(issue.line <= text.split('\n').length + 1, JSON.stringify(issue));
    }
    for (const line of err.format().split('\n')) assert.match(line, /^x\.yaml:\d+:\d+: \S/);
  }
}

test('any edit of the examples yields a config or positioned issues, never another exception', () => {
  for (const example of examples) {
    fc.assert(
      fc.property(fc.nat(example.length), fc.nat(8), fc.string({ maxLength: 6 }), (at, cut, insert) => {
        checkOutcome(example.slice(0, at) + insert + example.slice(at + cut));
      }),
      { numRuns: 300 },
    );
  }
});

test('arbitrary text yields a config or positioned issues', () => {
  fc.assert(fc.property(fc.string({ maxLength: 80 }), (text) => checkOutcome(text)), { numRuns: 200 });
});

test('YAML features that surprise people are refused or read plainly', () => {
  // `yes` is a string in YAML 1.2, so a boolean field says so instead of reading it as true.
  assert.throws(
    () => parseConfig('apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\npools: [{ name: a, addresses: [10.0.0.0/8], autoAssign: yes }]\n', 'x.yaml'),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.format() === 'x.yaml:3:57: pools[0].autoAssign: "yes" is not allowed; expected true or false',
  );
  // An alias bomb is cut short rather than expanded.
  const bomb = 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
  assert.throws(() => parseConfig(bomb, 'x.yaml'), ConfigError);
});
