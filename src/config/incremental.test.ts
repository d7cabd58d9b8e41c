import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { projectRoot } from '../project-root.ts';
import { ConfigReader } from './incremental.ts';
import { ConfigError, parseConfig } from './index.ts';
import { splitServiceItems } from './service-items.ts';

const OPTIONS = { hostname: 'lb1' };

/** What a read gives: the config, or every issue as the user sees it (file:line:col: path: message). */
function verdict(read: () => unknown): unknown {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigError) return { code: err.code, refused: err.format() };
    throw err;
  }
}

function serviceItem(i: number, indent = '  '): string {
  const more = `${indent}  `;
  return (
    `${indent}- name: svc-${i}\n${more}namespace: bench\n${more}externalIPs: [10.200.${(i + 1) >> 8}.${(i + 1) & 255}]\n` +
    `${more}ports: [{ name: http, port: 80, targetPort: 8080 }]\n${more}backends:\n${more}  - { address: 10.100.${i >> 8}.${i & 255} }\n`
  );
}

/** The example file with `count` more services after its own, and a key after the list. */
function bigExample(count: number): string {
  const example = readFileSync(`${projectRoot()}/examples/lb1.yaml`, 'utf8');
  const at = example.indexOf('\nbgp:');
  const extra = Array.from({ length: count }, (_, i) => serviceItem(i)).join('');
  return at < 0 ? example + extra : `${example.slice(0, at + 1)}${extra}${example.slice(at + 1)}`;
}

test('the file is cut at its services list items; anything unusual is not cut', () => {
  const text = 'kind: AgentConfig\nservices:   # ours\n  # first\n  - name: a\n    ports: []\n\n# between\n  - name: b\nbgp:\n  routerId: 1.1.1.1\n';
  assert.deepEqual(splitServiceItems(text), {
    head: 'kind: AgentConfig\nservices:   # ours\n  # first\n\u0000bgp:\n  routerId: 1.1.1.1\n',
    items: ['  - name: a\n    ports: []\n\n# between\n', '  - name: b\n'],
  });
  assert.deepEqual(splitServiceItems('services:\n- name: a\n  ports: []\n- name: b\nbgp: {}\n')?.items, ['- name: a\n  ports: []\n', '- name: b\n']);
  assert.deepEqual(splitServiceItems('services:\n  - name: a\n  - name: b'), { head: 'services:\n\u0000', items: ['  - name: a\n', '  - name: b'] });
  for (const text of [
    'services: [{ name: a }]\n',
    'services:\n  - name: a\nservices:\n  - name: b\n',
    '---\nservices:\n  - name: a\n',
    'services:\r\n  - name: a\r\n',
    'services:\n    - name: a\n  - name: b\n',
    'services:\n  - name: a\n  ports: []\n',
    'services:\nbgp: {}\n',
    'kind: AgentConfig\n',
  ]) {
    assert.equal(splitServiceItems(text), undefined, JSON.stringify(text));
  }
});

test('one service changed in a large file: the same config as a whole read, the others the same objects', () => {
  const reader = new ConfigReader('big.yaml', OPTIONS);
  const text = bigExample(3000);
  const first = reader.read(text);
  assert.deepEqual(first, parseConfig(text, 'big.yaml', OPTIONS));
  const edited = text.replace('    backends:\n      - { address: 10.100.5.220 }\n', '    backends:\n      - { address: 10.100.5.220, weight: 3 }\n');
  assert.notEqual(edited, text);
  const second = reader.read(edited);
  assert.deepEqual(second, parseConfig(edited, 'big.yaml', OPTIONS));
  const changed = second.services.findIndex((s) => s.name === 'svc-1500');
  assert.equal(second.services[changed]?.backends[0]?.weight, 3);
  second.services.forEach((s, i) => assert.equal(s === first.services[i], i !== changed, `services[${i}] ${s.name}`));
  assert.equal(second.pools, first.pools);
});

test('an error in one edited service of a large file names its line, index, value and what is allowed', () => {
  const reader = new ConfigReader('big.yaml', OPTIONS);
  const text = bigExample(3000);
  reader.read(text);
  const edited = text.replace('10.100.9.100 }', '10.100.9.100, wieght: 2 }').replace('ports: [{ name: http, port: 80, targetPort: 8080 }]\n    backends:\n      - { address: 10.100.11.', 'ports: [{ name: http, port: 0, targetPort: 8080 }]\n    backends:\n      - { address: 10.100.11.');
  const lines = edited.split('\n');
  const wieght = lines.findIndex((l) => l.includes('wieght')) + 1;
  const port = lines.findIndex((l) => l.includes('port: 0,')) + 1;
  assert.throws(
    () => reader.read(edited),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.issues.map((i) => `${i.file}:${i.line}: ${i.path}: ${JSON.stringify(i.value)}; ${i.allowed}`),
        [
          `big.yaml:${wieght}: services[2407].backends[0].wieght: "wieght"; one of the fields address, weight, state, ports`,
          `big.yaml:${port}: services[2819].ports[0].port: 0; an integer 1–65535`,
        ].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1])),
      );
      return true;
    },
  );
  // The last good config is still the base of the next read.
  assert.deepEqual(reader.read(text), parseConfig(text, 'big.yaml', OPTIONS));
});

/** Edits a config author makes to the services list, and some damage anywhere in the text. */
const service = fc.record({
  name: fc.constantFrom('a', 'b', 'web', 'nginx', 'svc-7', 'Bad_Name'),
  namespace: fc.constantFrom(undefined, 'default', 'bench'),
  type: fc.constantFrom(undefined, 'ClusterIP', 'LoadBalancer'),
  externalIP: fc.constantFrom(undefined, '10.200.0.5', '10.200.3.4', '10.999.0.1', 'fd00:200::7'),
  pool: fc.constantFrom(undefined, 'default', 'v6', 'nope'),
  port: fc.constantFrom(53, 80, 443, 0, 70000),
  backend: fc.constantFrom('10.100.1.1', '10.100.1.2', 'fd00:100::1', 'nope'),
  comment: fc.boolean(),
});

type Service = typeof service extends fc.Arbitrary<infer T> ? T : never;

function itemText(s: Service, indent: string): string {
  const more = `${indent}  `;
  return [
    ...(s.comment ? [`${indent}# ${s.name}`] : []),
    `${indent}- name: ${s.name}`,
    ...(s.namespace === undefined ? [] : [`${more}namespace: ${s.namespace}`]),
    ...(s.type === undefined ? [] : [`${more}type: ${s.type}`]),
    ...(s.externalIP === undefined ? [] : [`${more}externalIPs: [${s.externalIP}]`]),
    ...(s.pool === undefined ? [] : [`${more}pool: ${s.pool}`]),
    `${more}ports: [{ name: http, port: ${s.port} }]`,
    `${more}backends:`,
    `${more}  - { address: "${s.backend}" }`,
  ].join('\n') + '\n';
}

const edit = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), service }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), service }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('damage' as const), at: fc.nat(), cut: fc.nat(3), insert: fc.constantFrom('', ' ', '- ', '\n', '#', ': ', '"', '[', 'x: 1', '\n  ', '\n    - ') }),
);

/** Applies an edit: to one item of the list (by its index), or to the text anywhere. */
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function applyEdit(text: string, e: Edit): string {
  if (e.kind === 'damage') {
    const at = e.at % (text.length + 1);
    return text.slice(0, at) + e.insert + text.slice(at + e.cut);
  }
  const split = splitServiceItems(text);
  if (split === undefined) return text;
  const items = [...split.items];
  const at = e.at % items.length;
  const indent = /^ */.exec(items[0]!.split('\n').find((l) => l.trimStart().startsWith('-')) ?? '')?.[0] ?? '  ';
  if (e.kind === 'delete' && items.length > 1) items.splice(at, 1);
  else if (e.kind === 'replace') items[at] = itemText(e.service, indent);
  else if (e.kind === 'insert') items.splice(at, 0, itemText(e.service, indent));
  const [before, after] = split.head.split('\u0000') as [string, string];
  return `${before}${items.join('')}${after}`;
}

test('a reader fed edit after edit gives what a whole read gives, config or errors (property)', () => {
  const bases = [bigExample(20), bigExample(3).replaceAll('\n  - name:', '\n- name:').replace(/\n {4}(?=\S)/g, '\n  ')];
  fc.assert(
    fc.property(fc.constantFrom(...bases), fc.array(edit, { minLength: 1, maxLength: 6 }), (base, edits) => {
      const reader = new ConfigReader('f.yaml', OPTIONS);
      let text = base;
      assert.deepEqual(verdict(() => reader.read(text)), verdict(() => parseConfig(text, 'f.yaml', OPTIONS)));
      for (const e of edits) {
        text = applyEdit(text, e);
        assert.deepEqual(verdict(() => reader.read(text)), verdict(() => parseConfig(text, 'f.yaml', OPTIONS)), JSON.stringify(text));
      }
    }),
    { numRuns: 200 },
  );
});
