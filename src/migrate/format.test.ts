import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock, test } from 'node:test';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { migrateCommand, runMigrateExternalIPs } from './cli.ts';
import { MigrateError, MigrateErrorCode } from './errors.ts';
import { formatMigrationPlan } from './format.ts';
import { servicesFromText } from './input.ts';
import { planExternalIPsMigration, type MigrateStep } from './plan.ts';

// What `kubectl get services -A -o yaml` prints for the seed's two nginx Services and a third.
const kubectlList = `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: nginx
    namespace: default
    resourceVersion: "1201"
  spec:
    clusterIP: 10.96.12.7
    externalIPs:
    - 10.200.0.5
    ipFamilies:
    - IPv4
    ipFamilyPolicy: SingleStack
    ports:
    - port: 80
      protocol: TCP
      targetPort: 80
    type: ClusterIP
- apiVersion: v1
  kind: Service
  metadata:
    name: nginx-lb
    namespace: default
  spec:
    type: LoadBalancer
    ipFamilies: [IPv4]
- apiVersion: v1
  kind: Service
  metadata:
    name: legacy
    namespace: shop
  spec:
    type: ClusterIP
    externalIPs: [10.200.0.20, 10.200.0.21]
`;

test('yaml output: a summary, the skipped with why, then one merge patch per document with its kubectl line', () => {
  const out = runMigrateExternalIPs({ file: 'svcs.yaml' }, kubectlList);
  const lines = out.split('\n');
  assert.equal(lines[0], '# vipgate migrate external-ips: 1 Service to change, 1 skipped.');
  assert.match(lines[1] ?? '', /^# skipped shop\/legacy: externalIPs holds 2 IPv4 addresses/);
  const docs = parseAllDocuments(out);
  // The first document is only comments; the others are the patches, in plan order.
  const patches = docs.map((d) => d.toJS() as unknown).filter((p) => p !== null);
  const steps = planExternalIPsMigration(servicesFromText(kubectlList, 'x')).filter((s): s is MigrateStep => s.action === 'migrate');
  assert.deepEqual(patches, steps.map((s) => s.patch));
  assert.match(out, /# default\/nginx: ClusterIP with externalIPs 10\.200\.0\.5 -> type: LoadBalancer requesting 10\.200\.0\.5\n/);
  assert.ok(
    out.includes(
      `# apply: kubectl --namespace 'default' patch service 'nginx' --type merge --patch '{"metadata":{"annotations":{"vipgate.io/ips":"10.200.0.5"}},"spec":{"type":"LoadBalancer","externalIPs":null,"allocateLoadBalancerNodePorts":false}}'\n`,
    ),
  );
});

test('kubectl output is a shell script of patches; skipped Services only as comments', () => {
  const out = runMigrateExternalIPs({ file: '-', output: 'kubectl' }, kubectlList);
  const commands = out.split('\n').filter((l) => l !== '' && !l.startsWith('#') && l !== 'set -e');
  assert.equal(out.split('\n')[0], '#!/bin/sh');
  assert.deepEqual(commands.map((c) => c.split(' ').slice(0, 5).join(' ')), ["kubectl --namespace 'default' patch service"]);
});

test('nothing to migrate says so and prints no patch', () => {
  assert.equal(formatMigrationPlan([]), '# vipgate migrate external-ips: 0 Services to change, 0 skipped.\n');
  assert.equal(formatMigrationPlan([], 'kubectl'), '# vipgate migrate external-ips: 0 Services to change, 0 skipped.\n');
});

test('input: a List, --- documents and JSON all work; other kinds are ignored', () => {
  const docs = `kind: Service\nmetadata: {name: a}\nspec: {externalIPs: [10.200.0.5]}\n---\nkind: Deployment\nmetadata: {name: d}\n---\n`;
  assert.deepEqual(servicesFromText(docs, 'f').map((s) => s.metadata.name), ['a']);
  assert.deepEqual(servicesFromText(kubectlList, 'f').map((s) => s.metadata.name), ['nginx', 'nginx-lb', 'legacy']);
  assert.deepEqual(servicesFromText(JSON.stringify({ kind: 'ServiceList', items: [{ kind: 'Service', metadata: { name: 'j' } }] }), 'f').map((s) => s.metadata.name), ['j']);
  assert.deepEqual(servicesFromText('', 'f'), []);
});

test('input that is not Services is refused with where and what', () => {
  const cases: [string, RegExp][] = [
    ['kind: Service\nmetadata: {name: a\n', /^f: document 1: /],
    ['- 1\n- 2\n', /^f: document 1: expected a Kubernetes object/],
    ['kind: Service\nmetadata: {}\n', /^f: document 1: a Service without metadata.name/],
    ['kind: Service\nmetadata: {name: a}\nspec: {externalIPs: 10.200.0.5}\n', /spec.externalIPs must be a list/],
  ];
  assert.equal(new MigrateError(MigrateErrorCode.badInput, 'x').code, 'MIGRATE_BAD_INPUT');
  for (const [text, message] of cases) {
    assert.throws(() => servicesFromText(text, 'f'), (err: unknown) => err instanceof MigrateError && message.test(err.message), text);
  }
});

async function runCli(args: string[]): Promise<{ out: string; err: string; exitCode: number | string | undefined }> {
  const program = new Command('vipgate').exitOverride();
  migrateCommand(program);
  let out = '';
  let err = '';
  const write = mock.method(process.stdout, 'write', (chunk: string) => ((out += chunk), true));
  const writeErr = mock.method(process.stderr, 'write', (chunk: string) => ((err += chunk), true));
  const before = process.exitCode;
  try {
    await program.parseAsync(['node', 'vipgate', 'migrate', 'external-ips', ...args]);
    return { out, err, exitCode: process.exitCode };
  } finally {
    write.mock.restore();
    writeErr.mock.restore();
    process.exitCode = before;
  }
}

test('the command reads the file and prints the plan; a missing or bad file exits 2 with one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgt-migrate-'));
  try {
    writeFileSync(join(dir, 'svcs.yaml'), kubectlList);
    writeFileSync(join(dir, 'bad.yaml'), '- just\n- a list\n');
    const ok = await runCli(['-f', join(dir, 'svcs.yaml'), '--load-balancer-class', 'vipgate.io/lb']);
    assert.equal(ok.exitCode, undefined);
    assert.match(ok.out, /loadBalancerClass: vipgate\.io\/lb/);
    const missing = await runCli(['-f', join(dir, 'nope.yaml')]);
    assert.equal(missing.exitCode, 2);
    assert.match(missing.err, /^vipgate migrate external-ips: cannot read .*nope\.yaml: /);
    const bad = await runCli(['-f', join(dir, 'bad.yaml')]);
    assert.equal(bad.exitCode, 2);
    assert.equal(bad.out, '');
    assert.match(bad.err, /expected a Kubernetes object/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
