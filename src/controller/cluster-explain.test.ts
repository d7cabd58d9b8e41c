import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeEvent, KubeLbNodeStatus, KubeNode, KubeService } from '../kube/index.ts';
import { explainCluster, type ClusterSnapshot, type ClusterTarget } from './cluster-explain.ts';

const NOW = new Date('2026-12-06T08:00:00Z');
const LB = 'node-role.kubernetes.io/lb';
const WEB: ClusterTarget = { kind: 'service', key: 'default/web', text: 'default/web' };

function service(more: { spec?: NonNullable<KubeService['spec']>; status?: NonNullable<KubeService['status']> } = {}): KubeService {
  return {
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2026-12-06T07:00:00Z' },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', ports: [{ port: 80, protocol: 'TCP' }], ...more.spec },
    status: more.status ?? {
      loadBalancer: { ingress: [{ ip: '10.200.0.130' }] },
      conditions: [{ type: 'vipgate.io/VIPAllocated', status: 'True', reason: 'Allocated', message: 'VIPs 10.200.0.130', lastTransitionTime: '2026-12-06T07:00:01Z' }],
    },
  };
}

function node(name: string, more: { unschedulable?: boolean; labels?: Record<string, string> } = {}): KubeNode {
  return { metadata: { name, labels: more.labels ?? { [LB]: '' } }, spec: more.unschedulable === true ? { unschedulable: true } : {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
}

function report(name: string, problems: { service: string; condition: string; reason: string; message: string }[] = [], more: { observedAt?: string; announcementChecked?: boolean } = {}): KubeLbNodeStatus {
  return {
    metadata: { name },
    status: {
      observedAt: more.observedAt ?? '2026-12-06T07:59:58Z', refreshSeconds: 60, services: 1, served: 1, announced: 1,
      announcementChecked: more.announcementChecked ?? true, truncated: false, problems: problems.map((p) => ({ ...p, since: '2026-12-06T07:59:50Z' })),
    },
  };
}

function snapshot(more: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    now: NOW, policy: { isDefaultClass: false },
    services: [service()],
    pools: [{ metadata: { name: 'default' }, spec: { addresses: ['10.200.0.128/26'] } }],
    nodes: [node('lb1'), node('worker1', { labels: {} })],
    configs: [{ metadata: { name: 'lb-nodes' }, spec: { nodeSelector: { matchLabels: { [LB]: '' } } } }],
    reports: [report('lb1')],
    events: [],
    ...more,
  };
}

const firstBroken = (e: ReturnType<typeof explainCluster>) => [...e.cluster, ...e.nodes.flatMap((n) => n.links)].find((l) => l.state === 'broken');

test('a healthy Service: every link ok, served by its LB node (not by a worker)', () => {
  const e = explainCluster(WEB, snapshot());
  assert.equal(e.served, true);
  assert.deepEqual(e.servedBy, ['lb1']);
  assert.deepEqual(e.cluster.map((l) => [l.link, l.state]), [['service', 'ok'], ['policy', 'ok'], ['allocation', 'ok'], ['nodes', 'ok']]);
  assert.deepEqual(e.nodes[0]!.links.map((l) => [l.link, l.state]), [['node', 'ok'], ['report', 'ok'], ['served', 'ok'], ['announcement', 'ok']]);
  assert.match(e.cluster[2]!.says, /10\.200\.0\.130 \(VIPPool default\)/);
  assert.deepEqual(e.vips, ['10.200.0.130']);
});

test('found by its VIP, and by VIP:port; a port it lacks breaks the service link', () => {
  assert.equal(explainCluster({ kind: 'vip', address: '10.200.0.130', text: '10.200.0.130' }, snapshot()).service, 'default/web');
  assert.equal(explainCluster({ kind: 'vip', address: '10.200.0.130', port: 80, text: '10.200.0.130:80' }, snapshot()).served, true);
  const e = explainCluster({ kind: 'vip', address: '10.200.0.130', port: 443, text: '10.200.0.130:443' }, snapshot());
  assert.equal(firstBroken(e)?.link, 'service');
  assert.match(firstBroken(e)!.says, /has no port 443 \(its ports: 80\/TCP\)/);
});

test('no such Service, or a VIP nobody holds: the service link, with the pool it is in', () => {
  const none = explainCluster({ kind: 'service', key: 'default/nope', text: 'default/nope' }, snapshot());
  assert.equal(none.served, false);
  assert.match(firstBroken(none)!.says, /there is no Service default\/nope/);
  const vip = explainCluster({ kind: 'vip', address: '10.200.0.140', text: '10.200.0.140' }, snapshot());
  assert.match(firstBroken(vip)!.says, /no Service holds or asks for 10\.200\.0\.140 \(it is in VIPPool default\)/);
  assert.deepEqual(vip.nodes, []);
});

test('a LoadBalancer of another class, or without a class: another load balancer serves it; the fix names the class', () => {
  const other = explainCluster(WEB, snapshot({ services: [service({ spec: { loadBalancerClass: 'example.com/other' } })] }));
  assert.equal(firstBroken(other)?.link, 'service');
  assert.match(firstBroken(other)!.says, /class example\.com\/other, not vipgate\.io\/lb/);
  assert.match(firstBroken(other)!.fix!, /spec\.loadBalancerClass: vipgate\.io\/lb/);
  const svc = service();
  const classless: KubeService = { ...svc, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } };
  assert.match(firstBroken(explainCluster(WEB, snapshot({ services: [classless] })))!.fix!, /--default-load-balancer-class/);
  assert.equal(explainCluster(WEB, snapshot({ services: [classless], policy: { isDefaultClass: true } })).served, true, 'served when vipgate is the default');
  const clusterIP = explainCluster(WEB, snapshot({ services: [{ ...svc, spec: { type: 'ClusterIP', ports: [{ port: 80 }] } }] }));
  assert.match(firstBroken(clusterIP)!.says, /ClusterIP Service without externalIPs/);
});

test('an externalIP the policy refused: the policy link carries the controller\'s message', () => {
  const refused: KubeService = {
    metadata: { name: 'web', namespace: 'default' },
    spec: { type: 'ClusterIP', ports: [{ port: 80 }], externalIPs: ['10.9.9.9'] },
    status: { conditions: [{ type: 'vipgate.io/ExternalIPsAllowed', status: 'False', reason: 'ExternalIPRejected', message: '10.9.9.9 is in no VIPPool that allows externalIPs', lastTransitionTime: '2026-12-06T07:00:00Z' }] },
  };
  const e = explainCluster({ kind: 'vip', address: '10.9.9.9', text: '10.9.9.9' }, snapshot({ services: [refused] }));
  assert.equal(firstBroken(e)?.link, 'policy');
  assert.match(firstBroken(e)!.says, /ExternalIPsAllowed=False ExternalIPRejected: 10\.9\.9\.9 is in no VIPPool/);
  assert.match(firstBroken(e)!.fix!, /allowExternalIPs: true/);
});

test('no pool: the allocation link says the controller\'s condition; no status at all: the controller has not seen it', () => {
  const failed = service({ status: { conditions: [{ type: 'vipgate.io/VIPAllocated', status: 'False', reason: 'NoPool', message: 'no VIPPool serves namespace default', lastTransitionTime: '2026-12-06T07:00:00Z' }] } });
  const e = explainCluster(WEB, snapshot({ services: [failed] }));
  assert.equal(firstBroken(e)?.link, 'allocation');
  assert.match(firstBroken(e)!.says, /VIPAllocated=False NoPool: no VIPPool serves namespace default/);
  const unseen = explainCluster(WEB, snapshot({ services: [service({ status: {} })] }));
  assert.match(firstBroken(unseen)!.says, /the controller has not seen it/);
});

test('no LB node: the nodes link; a cordoned or spec.drain node: the node link with its fix', () => {
  assert.equal(firstBroken(explainCluster(WEB, snapshot({ configs: [] })))?.link, 'nodes');
  const cordoned = explainCluster(WEB, snapshot({ nodes: [node('lb1', { unschedulable: true })] }));
  assert.equal(cordoned.served, false);
  assert.match(firstBroken(cordoned)!.says, /lb1 is drained \(Node lb1 is cordoned\)/);
  assert.equal(firstBroken(cordoned)!.fix, 'if lb1 should serve again: kubectl uncordon lb1');
  const drained = explainCluster(WEB, snapshot({ configs: [{ metadata: { name: 'lb-nodes' }, spec: { drain: true } }] }));
  assert.match(firstBroken(drained)!.fix!, /clear spec\.drain in LBNodeConfig lb-nodes/);
});

test('two LB nodes, one drained: served by the other, and the text says where it is broken', () => {
  const e = explainCluster(WEB, snapshot({ nodes: [node('lb1', { unschedulable: true }), node('lb2')], reports: [report('lb1'), report('lb2')] }));
  assert.equal(e.served, true);
  assert.deepEqual(e.servedBy, ['lb2']);
});

test('the node\'s report: missing, stale, or older than the VIP', () => {
  assert.match(firstBroken(explainCluster(WEB, snapshot({ reports: [] })))!.says, /no LBNodeStatus lb1/);
  const stale = explainCluster(WEB, snapshot({ reports: [report('lb1', [], { observedAt: '2026-12-06T07:50:00Z' })] }));
  assert.match(firstBroken(stale)!.says, /observed 600 s ago \(stale after 180 s\)/);
  const early = explainCluster(WEB, snapshot({ reports: [report('lb1', [], { observedAt: '2026-12-06T06:59:00Z' })], now: new Date('2026-12-06T07:01:00Z') }));
  assert.equal(early.nodes[0]!.links[1]!.state, 'unknown');
  assert.equal(early.served, false, 'not known to be served until a report covers it');
  assert.equal(firstBroken(early), undefined, 'and nothing is broken');
});

test('a node lists the Service: served / announcement link with its reason, message, since and a fix', () => {
  const e = explainCluster(WEB, snapshot({ reports: [report('lb1', [{ service: 'default/web', condition: 'Announced', reason: 'NoBGPSession', message: 'no BGP session is Established, so no router was told: 10.180.1.1 Active' }])] }));
  assert.equal(e.served, false);
  const link = firstBroken(e)!;
  assert.equal(link.link, 'announcement');
  assert.equal(link.says, 'NoBGPSession: no BGP session is Established, so no router was told: 10.180.1.1 Active (since 2026-12-06T07:59:50Z)');
  assert.match(link.fix!, /birdc show protocols/);
  const kernel = explainCluster(WEB, snapshot({ reports: [report('lb1', [{ service: 'default/web', condition: 'Served', reason: 'KernelDiffers', message: 'the kernel differs' }])] }));
  assert.equal(firstBroken(kernel)?.link, 'served');
  assert.match(firstBroken(kernel)!.fix!, /next read-back/);
});

test('a cut report that does not list the Service: served unknown, so not served', () => {
  const cut = report('lb1');
  const e = explainCluster(WEB, snapshot({ reports: [{ ...cut, status: { ...cut.status, truncated: true } }] }));
  assert.equal(e.nodes[0]!.links[2]!.state, 'unknown');
  assert.equal(e.served, false);
});

test('static routes: announcement unknown, still served; an L2 owner change Event is named on its node', () => {
  const e = explainCluster(WEB, snapshot({ reports: [report('lb1', [], { announcementChecked: false })] }));
  assert.equal(e.nodes[0]!.links[3]!.state, 'unknown');
  assert.equal(e.served, true);
  const change = (message: string, at: string): KubeEvent => ({ reason: 'L2OwnerChanged', type: 'Normal', message, lastTimestamp: at, source: { component: 'vipgate-agent' } });
  const events = [change('lb1 now answers ARP/NDP for 10.200.0.130 on eth1 (was lb2): lb2 lost BFD', '2026-12-06T07:59:00Z'), change('lb2 now answers ARP/NDP for 10.200.0.130 on eth1 (was lb1): lb1 drained', '2026-12-06T07:59:30Z')];
  const l2 = explainCluster(WEB, snapshot({ nodes: [node('lb1'), node('lb2')], reports: [report('lb1'), report('lb2')], events }));
  assert.match(l2.nodes[0]!.links[3]!.says, /; last L2 owner change: lb1 now answers ARP\/NDP for 10\.200\.0\.130 on eth1 \(was lb2\): lb2 lost BFD$/, 'its own take-over, not the one that named it as the old owner');
  assert.match(l2.nodes[1]!.links[3]!.says, /lb2 now answers/);
  assert.deepEqual(l2.events.map((x) => x.at), ['2026-12-06T07:59:30.000Z', '2026-12-06T07:59:00.000Z'], 'newest first');
});
