import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { manifestsCommand, optionsFromFlags, parseNodeSelector, parseToleration, runManifests } from './cli.ts';
import { ManifestsError, ManifestsErrorCode } from './errors.ts';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { renderManifests, type KubeObject } from './render.ts';
import { podOf, the } from './test-objects.test-support.ts';

function parseYaml(text: string): KubeObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
}

/** Every (group, resource, verb) a ServiceAccount gets through any role bound to it. */
function grants(objects: readonly KubeObject[], account: string): Set<string> {
  const out = new Set<string>();
  // A ClusterRoleBinding has the same shape as a RoleBinding; only the kind differs.
  for (const binding of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') as IRoleBinding[]) {
    if (!(binding.subjects ?? []).some((s) => s.name === account)) continue;
    const role = the<IRole>(objects, binding.roleRef.kind as IRole['kind'], binding.roleRef.name);
    for (const rule of role.rules ?? []) {
      for (const g of rule.apiGroups ?? []) for (const r of rule.resources ?? []) for (const v of rule.verbs) {
        out.add(`${(binding as KubeObject).kind === 'RoleBinding' ? 'ns:' : ''}${g}/${r}${rule.resourceNames ? `[${rule.resourceNames.join(',')}]` : ''}:${v}`);
      }
    }
  }
  return out;
}

const writeVerbs = ['create', 'update', 'patch', 'delete', 'deletecollection'];

test('RBAC: the agent only reads (but for Events and its LBNodeStatus), and reads Secrets only in its own namespace', () => {
  const agent = grants(renderManifests(), 'vipgate-agent');
  // Its only writes: Events (L2 ownership changes and conflicts on the Service), and its node's
  // read-back (created once, then only its status patched).
  assert.deepEqual([...agent].filter((g) => writeVerbs.some((v) => g.endsWith(`:${v}`))).sort(), [
    '/events:create', '/events:patch', 'events.k8s.io/events:create', 'events.k8s.io/events:patch',
    'vipgate.io/lbnodestatuses/status:patch', 'vipgate.io/lbnodestatuses:create',
  ]);
  for (const needed of ['/services:watch', 'discovery.k8s.io/endpointslices:watch', '/nodes:list', 'vipgate.io/vippools:watch', 'vipgate.io/bgppeers:list', 'vipgate.io/lbnodeconfigs:get', 'vipgate.io/l2advertisements:list', 'vipgate.io/l2advertisements:watch', '/nodes:watch']) {
    assert.ok(agent.has(needed), needed);
  }
  assert.ok(agent.has('ns:/secrets:get'));
  assert.ok(!agent.has('/secrets:get'), 'cluster-wide secrets');
});

test('RBAC: the controller writes only status, events, its Lease and the policy params', () => {
  const objects = renderManifests();
  const writes = [...grants(objects, 'vipgate-controller')].filter((g) => writeVerbs.some((v) => g.endsWith(`:${v}`))).sort();
  assert.deepEqual(writes, [
    '/events:create', '/events:patch', '/services/status:patch', '/services/status:update',
    'events.k8s.io/events:create', 'events.k8s.io/events:patch',
    'ns:/configmaps:create', 'ns:/configmaps[vipgate-external-ips]:patch', 'ns:/configmaps[vipgate-external-ips]:update',
    'ns:coordination.k8s.io/leases:create', 'ns:coordination.k8s.io/leases[vipgate-controller]:patch', 'ns:coordination.k8s.io/leases[vipgate-controller]:update',
    'vipgate.io/vippools/status:patch', 'vipgate.io/vippools/status:update',
  ]);
  const all = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
  assert.ok(!JSON.stringify(all).includes('"*"'), 'no wildcards');
});

test('agent DaemonSet: hostNetwork on the LB nodes, tolerating their taint, with only the capabilities nftables needs', () => {
  const { pod, container } = podOf(renderManifests(), 'DaemonSet');
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.deepEqual(pod.nodeSelector, { 'node-role.kubernetes.io/lb': '' });
  assert.deepEqual(pod.tolerations, [{ key: 'node-role.kubernetes.io/lb', operator: 'Exists', effect: 'NoSchedule' }]);
  const sc = container.securityContext;
  assert.ok(sc);
  assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['NET_ADMIN'] });
  assert.equal(sc.readOnlyRootFilesystem, true);
  // The state file's directory, the only place the agent writes besides /tmp.
  assert.deepEqual(container.volumeMounts?.find((m) => m.mountPath === '/var/lib/vipgate')?.name, 'state');
  assert.deepEqual(pod.volumes?.find((v) => v.name === 'state')?.hostPath, { path: '/var/lib/vipgate', type: 'DirectoryOrCreate' });
  assert.equal(sc.privileged, undefined);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.ok(!JSON.stringify(pod.volumes).includes('bpf'));
  assert.ok(container.args?.includes('--api-listen=127.0.0.1:9470'), 'the unauthenticated API stays on loopback');
  assert.deepEqual(container.ports, [{ name: 'metrics', containerPort: 9472, protocol: 'TCP' }]);
});

test('agent DaemonSet with --xdp adds SYS_ADMIN and bpffs; selector and tolerations are configurable', () => {
  const { pod, container } = podOf(
    renderManifests({ xdp: true, lbNodeSelector: { 'example.com/edge': 'true' }, lbTolerations: [{ key: 'edge', value: 'yes', effect: 'NoExecute' }] }),
    'DaemonSet',
  );
  assert.deepEqual(container.securityContext?.capabilities?.add, ['NET_ADMIN', 'SYS_ADMIN']);
  assert.ok((pod.volumes ?? []).some((v) => v.hostPath?.path === '/sys/fs/bpf'));
  assert.deepEqual(pod.nodeSelector, { 'example.com/edge': 'true' });
  assert.deepEqual(pod.tolerations, [{ key: 'edge', operator: 'Equal', value: 'yes', effect: 'NoExecute' }]);
});

test('controller Deployment: 2 replicas electing a leader through the Lease its Role names, non-root, read-only', () => {
  const objects = renderManifests();
  const d = the<IDeployment>(objects, 'Deployment');
  assert.equal(d.spec?.replicas, 2);
  const { pod, container: c } = podOf(objects, 'Deployment');
  assert.ok(c.args?.includes('--lease-name=vipgate-controller'));
  assert.ok((the<IRole>(objects, 'Role', 'vipgate-controller').rules ?? []).some((r) => r.resourceNames?.includes('vipgate-controller') === true));
  assert.equal(pod.securityContext?.runAsNonRoot, true);
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
  assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9471, protocol: 'TCP' }]);
  const labels = d.spec.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(d.spec.selector.matchLabels ?? {})) assert.equal(labels[k], v, 'selector matches the pods');
});

test('every namespaced object lands in the chosen namespace', () => {
  const objects = renderManifests({ namespace: 'edge-lb' });
  assert.equal(the<INamespace>(objects, 'Namespace').metadata?.name, 'edge-lb');
  const namespaced = objects.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding', 'Deployment', 'DaemonSet'].includes(o.kind));
  assert.ok(namespaced.length >= 7);
  for (const o of namespaced) assert.equal(o.metadata?.namespace, 'edge-lb', `${o.kind} ${o.metadata?.name ?? ''}`);
  for (const b of objects.filter((o) => o.kind.endsWith('RoleBinding')) as IRoleBinding[]) {
    assert.equal(b.subjects?.[0]?.namespace, 'edge-lb');
  }
});

test('--no-admission-policy leaves the policy, its binding and its params out, nothing else', () => {
  const kinds = (objects: KubeObject[]): string[] => objects.map((o) => o.kind);
  const without = kinds(renderManifests({ admissionPolicy: false }));
  assert.ok(!without.includes('ValidatingAdmissionPolicy') && !without.includes('ValidatingAdmissionPolicyBinding') && !without.includes('ConfigMap'));
  assert.equal(without.length, kinds(renderManifests()).length - 3);
});

test('bad options are refused with the flag, the value and what is allowed', () => {
  const cases: [Parameters<typeof renderManifests>[0], string, RegExp][] = [
    [{ namespace: 'Vipgate_System' }, '--namespace', /"Vipgate_System" is not allowed; expected a DNS label/],
    [{ image: 'not an image' }, '--image', /expected an image reference/],
    [{ controllerReplicas: 0 }, '--controller-replicas', /expected an integer 1–10/],
    [{ lbNodeSelector: { 'bad key!': '' } }, '--lb-node-selector', /a label key/],
    [{ lbTolerations: [{ key: 'k', effect: 'NoRun' as never }] }, '--lb-toleration', /one of NoSchedule, PreferNoSchedule, NoExecute/],
    [{ agentMetricsPort: 70000 }, '--agent-metrics-port', /an integer 1–65535/],
    [{ loadBalancerClass: 'vipgate' }, '--load-balancer-class', /with a prefix/],
  ];
  assert.equal(new ManifestsError(ManifestsErrorCode.badOption, 'x', '--x').code, 'MANIFESTS_BAD_OPTION');
  for (const [options, flag, message] of cases) {
    assert.throws(
      () => renderManifests(options),
      (err: unknown) => err instanceof ManifestsError && err.option === flag && message.test(err.message),
      flag,
    );
  }
});

test('flags: node selector and toleration syntax as kubectl writes them', () => {
  assert.deepEqual(parseNodeSelector('node-role.kubernetes.io/lb=,zone=a'), { 'node-role.kubernetes.io/lb': '', zone: 'a' });
  assert.deepEqual(parseNodeSelector(''), {});
  assert.throws(() => parseNodeSelector('justakey'), /key=value pairs/);
  assert.deepEqual(parseToleration('node-role.kubernetes.io/lb:NoSchedule'), { key: 'node-role.kubernetes.io/lb', effect: 'NoSchedule' });
  assert.deepEqual(parseToleration('dedicated=lb:NoExecute'), { key: 'dedicated', value: 'lb', effect: 'NoExecute' });
  assert.throws(() => parseToleration('dedicated=lb'), /key\[=value\]:Effect/);
  assert.deepEqual(optionsFromFlags({ lbToleration: false }), { lbTolerations: [] });
  assert.throws(() => optionsFromFlags({ controllerReplicas: 'two' }), /--controller-replicas: "two"/);
});

test('runManifests with no flags is the default install; -o json is a v1 List of the same objects', () => {
  const yaml = runManifests({});
  assert.deepEqual(parseYaml(yaml), renderManifests());
  const list = JSON.parse(runManifests({ output: 'json' })) as { kind: string; items: unknown };
  assert.equal(list.kind, 'List');
  assert.deepEqual(list.items, renderManifests());
});

async function runCli(args: string[]): Promise<{ out: string; err: string; exitCode: number | string | undefined }> {
  const program = new Command('vipgate').exitOverride();
  manifestsCommand(program);
  let out = '';
  let err = '';
  const write = mock.method(process.stdout, 'write', (chunk: string) => ((out += chunk), true));
  const writeErr = mock.method(process.stderr, 'write', (chunk: string) => ((err += chunk), true));
  const before = process.exitCode;
  try {
    await program.parseAsync(['node', 'vipgate', 'manifests', ...args]);
    return { out, err, exitCode: process.exitCode };
  } finally {
    write.mock.restore();
    writeErr.mock.restore();
    process.exitCode = before;
  }
}

test('the command: defaults equal the default render; flags reach the objects; a bad flag exits 2 with one line', async () => {
  assert.equal((await runCli([])).out, runManifests({}));
  const xdp = await runCli(['--xdp', '--lb-toleration', 'edge:NoSchedule', '--lb-toleration', 'dedicated=lb:NoExecute', '--lb-node-selector', 'edge=true']);
  const { pod, container } = podOf(parseYaml(xdp.out), 'DaemonSet');
  assert.ok(container.securityContext?.capabilities?.add?.includes('SYS_ADMIN'));
  assert.deepEqual(pod.tolerations?.map((t) => t.key), ['edge', 'dedicated']);
  assert.deepEqual(pod.nodeSelector, { edge: 'true' });
  const none = await runCli(['--no-lb-toleration', '--no-admission-policy']);
  const objects = parseYaml(none.out);
  assert.deepEqual(podOf(objects, 'DaemonSet').pod.tolerations, []);
  assert.ok(!objects.some((o) => o.kind === 'ValidatingAdmissionPolicy'));
  const bad = await runCli(['--namespace', 'Bad_NS']);
  assert.equal(bad.out, '');
  assert.equal(bad.exitCode, 2);
  assert.match(bad.err, /^vipgate manifests: --namespace: "Bad_NS" is not allowed; expected a DNS label.*\n$/);
});

test('admission: params are a core ConfigMap shipped without data (nothing allowed), and a missing one never refuses a Service', () => {
  const objects = renderManifests();
  const policy = the<IValidatingAdmissionPolicy>(objects, 'ValidatingAdmissionPolicy');
  const binding = the<IValidatingAdmissionPolicyBinding>(objects, 'ValidatingAdmissionPolicyBinding');
  const spec = policy.spec;
  assert.ok(binding.spec);
  assert.ok(spec);
  assert.equal(binding.spec.policyName, policy.metadata?.name);
  assert.deepEqual(binding.spec.validationActions, ['Deny']);
  // Deny would refuse every Service write while the params are missing (the real server looks
  // them up before matchConditions); a CRD params kind is "not found" for ~30 s after a restart.
  assert.deepEqual(binding.spec.paramRef, { name: 'vipgate-external-ips', namespace: 'vipgate-system', parameterNotFoundAction: 'Allow' });
  assert.deepEqual(spec.paramKind, { apiVersion: 'v1', kind: 'ConfigMap' });
  assert.equal(spec.failurePolicy, 'Fail');
  const params = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'vipgate-external-ips');
  assert.ok(params, 'the params ship with the install');
  assert.equal(params.metadata?.namespace, 'vipgate-system');
  assert.equal('data' in params, false, 'no data: re-applying the manifests never resets what the controller wrote');
  const order = objects.map((o) => o.kind);
  assert.ok(order.indexOf('ConfigMap') < order.indexOf('ValidatingAdmissionPolicyBinding'), 'params before the binding that names them');
  assert.deepEqual(spec.matchConstraints?.resourceRules, [
    { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['services'] },
  ]);
});
