import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseDocument } from 'yaml';
import { projectRoot } from '../project-root.ts';
import { fastPlainData, linesAreSimple } from './fast-yaml.ts';
import { parseDocumentConfig, parseValidFast } from './load.ts';
import { ConfigError, parseConfig } from './index.ts';

/** What the document path (the `yaml` package, as load.ts configures it) makes of the text. */
function documentData(text: string): { ok: true; data: unknown } | { ok: false } {
  const doc = parseDocument(text, { version: '1.2', uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false };
  try {
    return { ok: true, data: doc.toJS({ maxAliasCount: 100 }) };
  } catch {
    return { ok: false };
  }
}

/** A config of `count` services, as a user with many services writes it. */
function manyServices(count: number, badBackend?: { index: number; line: string }): string {
  const head = 'apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\nnodeName: lb1\npools:\n  - name: default\n    addresses: [10.201.0.0/16]\n    allowExternalIPs: true\nservices:\n';
  const services = Array.from({ length: count }, (_, i) => {
    const backend = badBackend?.index === i ? badBackend.line : `      - { address: 10.100.${i >> 8}.${i & 255} }`;
    return `  - name: svc-${i}\n    externalIPs: [10.201.${(i + 1) >> 8}.${(i + 1) & 255}]\n    ports: [{ name: http, port: 80, targetPort: 8080 }]\n    backends:\n${backend}\n`;
  });
  return head + services.join('');
}

test('the fast path reads the examples and a large file exactly as the document path does', () => {
  const examples = ['lb1.yaml', 'lb1-l2.yaml'].map((name) => readFileSync(`${projectRoot()}/examples/${name}`, 'utf8'));
  for (const text of [...examples, manyServices(300)]) {
    const fast = fastPlainData(text);
    assert.ok(fast !== undefined, 'the fast path takes an ordinary config');
    assert.deepEqual(fast.data, (documentData(text) as { data: unknown }).data);
  }
});

test('anchors, aliases, tags, directives, explicit keys and tabs are left to the document path', () => {
  for (const text of ['a: &x 1\nb: *x\n', 'a: !!str 1\n', '%YAML 1.2\n---\na: 1\n', '? a\n: 1\n', 'a:\t1\n', '\uFEFFa: 1\n', 'p: "a&b"\n']) {
    assert.equal(fastPlainData(text), undefined, JSON.stringify(text));
  }
});

// Plain scalars as a config author might write them: numbers in every base, booleans and nulls
// of YAML 1.1 and 1.2, addresses, CIDRs, dates.
const scalarWords = fc.constantFrom(
  '0755', '0o755', '0x1F', '0b101', '1_000', '+12', '-0', '1.', '.5', '1e3', '1.5E-2', '.inf', '-.Inf', '.nan', '.NaN',
  'yes', 'no', 'on', 'off', 'y', 'n', 'true', 'True', 'TRUE', 'tRue', 'false', 'null', 'Null', 'NULL', '~', '',
  '10.0.0.1', '10.0.0.0/8', 'fd00::1', '2026-12-06', '12:30:00', '1:30', 'a b', '"q"', "'s'", '"a\\tb"', '[1, x]', '{a: 1}', '- x', 'x #c', '3 # c',
);
const scalarText = fc.oneof(scalarWords, fc.stringMatching(/^[-+.0-9a-zA-Z:/_ e]{0,8}$/));

test('a plain scalar means the same on both paths (YAML 1.2 core, not 1.1)', () => {
  fc.assert(
    fc.property(scalarText, scalarText, (a, b) => {
      const text = `k: ${a}\nl:\n  - ${b}\nm: {x: ${b === '' ? '1' : b}}\n`;
      const fast = fastPlainData(text);
      const doc = documentData(text);
      if (fast === undefined) return;
      assert.ok(doc.ok, `the fast path accepted what the document path refuses: ${JSON.stringify(text)}`);
      assert.deepEqual(fast.data, doc.data, JSON.stringify(text));
    }),
    { numRuns: 400 },
  );
});

/** The document path's verdict: the config, or the refusal's issues. */
function documentVerdict(text: string): unknown {
  try {
    return parseDocumentConfig(text, 'f.yaml', { hostname: 'h' });
  } catch (err) {
    if (err instanceof ConfigError) return { refused: err.issues.map((i) => `${i.line}:${i.path}`) };
    throw err;
  }
}

test('a damaged config is never accepted by the fast path unless the document path accepts it the same', () => {
  const base = readFileSync(`${projectRoot()}/examples/lb1.yaml`, 'utf8');
  const edit = fc.record({
    at: fc.nat(base.length),
    cut: fc.nat(4),
    insert: fc.constantFrom('', ' ', '  ', ':', '- ', '-', '\n', '"', "'", '[', ']', '{', '}', ',', '#', ' #', 'x: 1', '\n  ', ': ', '\n    '),
  });
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
      let text = base;
      for (const e of edits) {
        const at = Math.min(e.at, text.length);
        text = text.slice(0, at) + e.insert + text.slice(at + e.cut);
      }
      const fast = parseValidFast(text, { hostname: 'h' });
      if (fast === undefined) return;
      assert.deepEqual(documentVerdict(text), fast, JSON.stringify(text));
    }),
    { numRuns: 1500 },
  );
});

test('lines that leave a quote or a flow collection open, or glue a # to a value, go to the document path', () => {
  assert.equal(linesAreSimple('a: [1,\n  2]\n'), false);
  assert.equal(linesAreSimple('a: "x\n  y"\n'), false);
  assert.equal(linesAreSimple('a: 1# no\n'), false);
  assert.equal(linesAreSimple("a: 'it''s' # yes, [ in a comment\nb: { c: [1, 2] }\n"), true);
  assert.equal(fastPlainData('a: [1,\n2]\n'), undefined);
});

test('a bad field in a 10,000-service file still reports file:line and the field', () => {
  const text = manyServices(10_000, { index: 7321, line: '      - { address: 10.100.28.153, wieght: 2 }' });
  const line = text.split('\n').findIndex((l) => l.includes('wieght')) + 1;
  assert.throws(
    () => parseConfig(text, 'big.yaml', { hostname: 'lb1' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.issues.length, 1);
      const issue = err.issues[0]!;
      assert.equal(`${issue.file}:${issue.line}:${issue.path}`, `big.yaml:${line}:services[7321].backends[0].wieght`);
      assert.match(err.message, new RegExp(`big\\.yaml:${line}:\\d+`));
      return true;
    },
  );
});

test('a valid 10,000-service file loads with every service', () => {
  const config = parseConfig(manyServices(10_000), 'big.yaml', { hostname: 'lb1' });
  assert.equal(config.services.length, 10_000);
  assert.equal(config.services[9999]?.name, 'svc-9999');
});
