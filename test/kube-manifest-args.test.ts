// The manifests and the CLI agree: the args the controller Deployment and the agent DaemonSet
// pass are accepted by the real `vipgate` program. Each is run with the pod's environment minus
// the API server, so it gets past argument parsing and stops at the first thing a pod would have
// (KUBERNETES_SERVICE_HOST) without starting anything: an unknown or malformed flag would fail
// earlier, in commander, with its own message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCommand } from '../lab/run.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import { renderManifests } from '../src/manifests/render.ts';

const POD_ENV: Record<string, string> = { NODE_NAME: 'lb1', POD_NAME: 'vipgate-controller-7d9f-abcde', POD_NAMESPACE: 'vipgate-system' };

interface Container {
  readonly name: string;
  readonly args?: readonly string[];
}

function containerArgs(objects: readonly unknown[], kind: 'Deployment' | 'DaemonSet'): string[] {
  const workload = objects.find((o) => (o as { kind?: string }).kind === kind) as { spec: { template: { spec: { containers: Container[] } } } } | undefined;
  assert.ok(workload, `the manifests have a ${kind}`);
  const args = workload.spec.template.spec.containers[0]?.args;
  assert.ok(args !== undefined && args.length > 0, `the ${kind} passes args`);
  // What the kubelet does with $(VAR) in args.
  return args.map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => POD_ENV[name] ?? assert.fail(`${kind} args use $(${name}), which the pod does not define`)));
}

/** Runs the CLI with `args` in a pod-like environment that has no API server; stderr and status. */
async function vipgate(args: readonly string[]): Promise<{ exitCode: number | null; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KUBERNETES_')));
  const r = await runCommand(['env', '-i', ...Object.entries({ ...env, ...POD_ENV }).map(([k, v]) => `${k}=${v ?? ''}`), VIPGATE_BIN, ...args], { timeoutMs: 30_000 });
  return { exitCode: r.exitCode, stderr: r.stderr };
}

const COMMANDER_REFUSAL = /error: (unknown option|option '.*' argument missing|required option|missing required argument|too many arguments)/;

for (const variant of [{}, { defaultLoadBalancerClass: true, xdp: true, logLevel: 'debug' as const }]) {
  const objects = renderManifests(variant);
  const label = JSON.stringify(variant);

  test(`the agent DaemonSet's args parse and reach the agent (${label})`, async () => {
    const args = containerArgs(objects, 'DaemonSet');
    assert.equal(args[0], 'agent');
    const r = await vipgate(args);
    assert.doesNotMatch(r.stderr, COMMANDER_REFUSAL);
    assert.match(r.stderr, /KUBERNETES_SERVICE_HOST is unset/, `the agent stopped at the in-cluster check; stderr: ${r.stderr}`);
    assert.equal(r.exitCode, 2);
  });

  test(`the controller Deployment's args parse and reach the controller (${label})`, async () => {
    const args = containerArgs(objects, 'Deployment');
    assert.equal(args[0], 'controller');
    const r = await vipgate(args);
    assert.doesNotMatch(r.stderr, COMMANDER_REFUSAL);
    assert.match(r.stderr, /KUBERNETES_SERVICE_HOST is unset/, `the controller stopped at the in-cluster check; stderr: ${r.stderr}`);
    assert.notEqual(r.exitCode, 0);
  });
}

test('a flag the CLI does not know is caught (so the tests above can fail)', async () => {
  const args = containerArgs(renderManifests(), 'DaemonSet');
  const r = await vipgate([...args, '--no-such-flag']);
  assert.match(r.stderr, COMMANDER_REFUSAL);
});
