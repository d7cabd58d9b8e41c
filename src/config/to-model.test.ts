import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pool, ServiceSpec } from '../model/index.ts';
import { buildServiceTable } from '../model/index.ts';
import { loadConfigFile, parseConfig, poolsFromConfig, servicesFromConfig } from './index.ts';

const EXAMPLE = new URL('../../examples/lb1.yaml', import.meta.url).pathname;

test('examples/lb1.yaml parses into the demo walk-through', async () => {
  const cfg = await loadConfigFile(EXAMPLE, { hostname: 'ignored' });
  assert.equal(cfg.nodeName, 'lb1');
  assert.equal(cfg.vipInterface.name, 'cilium_ext');
  assert.deepEqual(cfg.vipInterface.routes, ['10.200.0.0/16', 'fd00:200::/64']);
  assert.deepEqual(cfg.dataplane.denySources, ['10.180.1.0/24']);
  assert.deepEqual(
    cfg.services.map((s) => `${s.namespace}/${s.name} ${s.type} [${s.ipFamilies.join(',')}]`),
    ['default/nginx ClusterIP [IPv4]', 'default/nginx2 LoadBalancer [IPv4]', 'default/web LoadBalancer [IPv4,IPv6]'],
  );
  const pools = poolsFromConfig(cfg);
  assert.deepEqual(
    pools.map((p) => [p.name, p.addresses, p.reserved]),
    [
      ['default', ['10.200.0.0/16'], ['10.200.0.1']],
      ['v6', ['fd00:200::/64'], ['fd00:200::1']],
    ],
  );
});

test('the example serves nginx on 10.200.0.5:80 with its backends, as `service list` would show', async () => {
  const cfg = await loadConfigFile(EXAMPLE);
  const services = servicesFromConfig(cfg);
  const vips = new Map([['default/nginx', { loadBalancer: [], externalIPs: ['10.200.0.5'] }]]);
  const { table, problems } = buildServiceTable(services, vips, cfg.dataplane.denySources);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    table.frontends.map((f) => `${f.key} ${f.type} ${f.backends.map((b) => `${b.address}:${b.port}`).join(' ')}`),
    ['10.200.0.5:80/tcp ExternalIPs 10.100.1.41:8080 10.100.2.17:8081'],
  );
});

test('a good file round-trips into the expected ServiceSpec and Pool values', () => {
  const cfg = parseConfig(
    `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
vipInterface:
  addresses: [10.200.0.1/24, FD00:0200::0001/64]
dataplane: { snat: none }
pools:
  - name: v4
    addresses: [10.200.0.0/16, 10.201.0.10-10.201.0.20]
    reserved: [10.200.0.9]
  - name: v6
    addresses: ["fd00:0200::/64"]
    autoAssign: false
    allowExternalIPs: true
    namespaces: [team-a]
    priority: 5
services:
  - name: dns
    namespace: infra
    type: LoadBalancer
    ipFamilyPolicy: PreferDualStack
    loadBalancerIPs: [10.200.0.53, "fd00:200:0::53"]
    pool: v4
    sharingKey: k
    ports:
      - { name: dns, port: 53, protocol: UDP }
      - { name: dns-tcp, port: 53, targetPort: 5353 }
    backends:
      - { address: 10.100.1.2, weight: 3, ports: { dns: 1053 } }
      - { address: "FD00:100::2", state: terminating }
    sessionAffinity: ClientIP
    loadBalancerSourceRanges: [192.0.2.0/24]
    snat: masquerade
  - name: plain
    externalIPs: [10.200.0.7]
    ports: [{ port: 8080 }]
`,
    'good.yaml',
    { hostname: 'h' },
  );
  assert.deepEqual(cfg.vipInterface.routes, ['10.200.0.0/16', '10.201.0.10/31', '10.201.0.12/30', '10.201.0.16/30', '10.201.0.20/32', 'fd00:200::/64']);
  const pools: Pool[] = [
    {
      name: 'v4',
      addresses: ['10.200.0.0/16', '10.201.0.10-10.201.0.20'],
      autoAssign: true,
      avoidBuggyIPs: false,
      allowExternalIPs: false,
      namespaces: [],
      reserved: ['10.200.0.9', '10.200.0.1'],
      priority: 0,
    },
    {
      name: 'v6',
      addresses: ['fd00:200::/64'],
      autoAssign: false,
      avoidBuggyIPs: false,
      allowExternalIPs: true,
      namespaces: ['team-a'],
      reserved: ['fd00:200::1'],
      priority: 5,
    },
  ];
  assert.deepEqual(poolsFromConfig(cfg), pools);
  const services: ServiceSpec[] = [
    {
      key: 'infra/dns',
      namespace: 'infra',
      name: 'dns',
      type: 'LoadBalancer',
      externalIPs: [],
      requestedIPs: ['10.200.0.53', 'fd00:200::53'],
      ipFamilies: [4, 6],
      pool: 'v4',
      sharingKey: 'k',
      ports: [
        {
          name: 'dns',
          port: 53,
          protocol: 'udp',
          backends: [
            { address: '10.100.1.2', port: 1053, weight: 3, state: 'ready' },
            { address: 'fd00:100::2', port: 53, weight: 1, state: 'terminating' },
          ],
        },
        {
          name: 'dns-tcp',
          port: 53,
          protocol: 'tcp',
          backends: [
            { address: '10.100.1.2', port: 5353, weight: 3, state: 'ready' },
            { address: 'fd00:100::2', port: 5353, weight: 1, state: 'terminating' },
          ],
        },
      ],
      sessionAffinity: 'ClientIP',
      sourceRanges: ['192.0.2.0/24'],
      snat: 'masquerade',
    },
    {
      key: 'default/plain',
      namespace: 'default',
      name: 'plain',
      type: 'ClusterIP',
      externalIPs: ['10.200.0.7'],
      requestedIPs: [],
      ipFamilies: [4],
      ports: [{ name: '', port: 8080, protocol: 'tcp', backends: [] }],
      sessionAffinity: 'None',
      sourceRanges: [],
      // dataplane.snat is the default for services that don't say.
      snat: 'none',
    },
  ];
  assert.deepEqual(servicesFromConfig(cfg), services);
});

test('the same settings objects give the same spec and pool objects; changed ones give new ones', () => {
  const text = 'apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\npools: [{ name: p, addresses: [10.200.0.0/24] }]\nservices:\n  - { name: a, externalIPs: [10.200.0.7], ports: [{ port: 80 }] }\n';
  const cfg = parseConfig(text, 'f.yaml', { hostname: 'h' });
  const [spec] = servicesFromConfig(cfg);
  const pools = poolsFromConfig(cfg);
  // A reload that kept the pools and this service hands on the same objects (src/config/incremental.ts).
  const reloaded = { ...cfg, services: [...cfg.services] };
  assert.equal(servicesFromConfig(reloaded)[0], spec);
  assert.equal(poolsFromConfig(reloaded), pools);
  const again = parseConfig(text, 'f.yaml', { hostname: 'h' });
  assert.notEqual(servicesFromConfig(again)[0], spec);
  assert.deepEqual(servicesFromConfig(again)[0], spec);
  assert.notEqual(poolsFromConfig({ ...cfg, vipInterface: { ...cfg.vipInterface } }), pools);
});
