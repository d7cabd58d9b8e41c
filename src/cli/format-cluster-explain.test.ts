import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterExplanation } from '../controller/cluster-explain.ts';
import { formatClusterExplain } from './format-cluster-explain.ts';

const base: ClusterExplanation = {
  target: 'default/web', service: 'default/web', vips: ['10.200.0.130'], served: true, servedBy: ['lb1'],
  cluster: [{ link: 'service', state: 'ok', says: 'default/web: LoadBalancer' }],
  nodes: [{ node: 'lb1', served: true, links: [{ link: 'node', state: 'ok', says: 'lb1 is an LB node' }] }],
  conditions: [], events: [],
};

test('served everywhere: one line', () => {
  assert.equal(formatClusterExplain(base), 'default/web is served by lb1 (10.200.0.130)\n');
});

test('not served: the first broken link with where and its fix, then every chain and the Events', () => {
  const e: ClusterExplanation = {
    ...base, served: false, servedBy: [],
    nodes: [{ node: 'lb1', served: false, links: [{ link: 'announcement', state: 'broken', says: 'NoBGPSession: no session', fix: 'look at the router' }] }],
    events: [{ type: 'Normal', reason: 'VIPAllocated', message: 'assigned VIPs 10.200.0.130', at: '2026-12-06T07:00:00.000Z', from: 'vipgate-controller' }],
  };
  const text = formatClusterExplain(e);
  assert.equal(text.split('\n').slice(0, 2).join('\n'), 'default/web (10.200.0.130) is not served: lb1: announcement: NoBGPSession: no session\n  fix: look at the router');
  assert.match(text, /\ncluster:\n {2}ok {6}service {7}default\/web: LoadBalancer\nlb1:\n {2}BROKEN {2}announcement {2}NoBGPSession: no session\n {24}fix: look at the router\n/);
  assert.match(text, /events \(newest first\):\n {2}2026-12-06T07:00:00\.000Z {2}Normal {3}VIPAllocated: assigned VIPs 10\.200\.0\.130\n$/);
});

test('nothing broken but no node known to serve it: says so, not "served"', () => {
  const e: ClusterExplanation = { ...base, served: false, servedBy: [], nodes: [{ node: 'lb1', served: false, links: [{ link: 'report', state: 'unknown', says: 'before the VIP' }] }] };
  assert.match(formatClusterExplain(e), /^default\/web \(10\.200\.0\.130\) is not known to be served: no fresh LB node report covers it/);
});
