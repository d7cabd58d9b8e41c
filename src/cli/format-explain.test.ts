import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExplainLink, Explanation } from '../api/explain.ts';
import { formatExplain, joinAnswers } from './format-explain.ts';

const link = (name: ExplainLink['link'], says: string, state: ExplainLink['state'] = 'ok', fix?: string): ExplainLink => ({ link: name, state, says, ...(fix === undefined ? {} : { fix }) });

function explanation(node: string, broken?: ExplainLink): Explanation {
  const links = [
    link('service', 'default/nginx: ClusterIP, externalIPs 10.200.0.5, ports 80/tcp'),
    broken?.link === 'node' ? broken : link('node', `${node} is in service`),
    link('backends', '10.200.0.5:80/tcp: 2 ready, 0 terminating'),
    link('traffic', 'no packet in 1.0 s', 'unknown'),
    broken?.link === 'announcement' ? broken : link('announcement', 'BGP: 10.10.12.1 was sent 10.200.0.5/32'),
  ];
  return { target: '10.200.0.5:80', node, service: 'default/nginx', frontends: ['10.200.0.5:80/tcp'], served: broken === undefined, links };
}

test('a VIP every agent serves: one line naming each node, its backends and its announcement', () => {
  const text = formatExplain(joinAnswers('10.200.0.5:80', [{ api: 'http://a', explanation: explanation('lb1') }, { api: 'http://b', explanation: explanation('lb2') }]));
  assert.equal(text.split('\n').length, 2, text);
  assert.match(text, /^10\.200\.0\.5:80 is served by lb1 \(default\/nginx; 10\.200\.0\.5:80\/tcp: 2 ready, 0 terminating; BGP: 10\.10\.12\.1 was sent 10\.200\.0\.5\/32\), by lb2 /);
});

test('a broken link comes first with its fix, then every chain with the broken link marked', () => {
  const drained = link('node', 'lb1 is drained since 2026-12-06T07:00:00.000Z (vipgate drain)', 'broken', 'vipgate undrain on lb1');
  const report = joinAnswers('10.200.0.5:80', [{ api: 'http://a', explanation: explanation('lb1', drained) }, { api: 'http://b', explanation: explanation('lb2') }]);
  assert.deepEqual([report.served, report.servedBy], [true, ['lb2']]);
  const lines = formatExplain(report).split('\n');
  assert.equal(lines[0], '10.200.0.5:80 is not served by lb1 (served by lb2): node: lb1 is drained since 2026-12-06T07:00:00.000Z (vipgate drain)');
  assert.equal(lines[1], '  fix: vipgate undrain on lb1');
  assert.equal(lines[3], 'lb1 (http://a):');
  assert.match(lines.find((l) => l.includes('BROKEN'))!, /^ {2}BROKEN {2}node {10}lb1 is drained/);
  assert.ok(lines.some((l) => /^ {2}\? {7}traffic/.test(l)), 'unknown is marked ?');
  assert.ok(lines.includes('lb2 (http://b):'));
});

test('an agent that does not answer is said so, and nobody serving is not served', () => {
  const down = link('announcement', 'no BGP session is Established', 'broken', 'look at the router side');
  const report = joinAnswers('10.200.0.5:80', [{ api: 'http://a', error: 'no agent is listening at http://a' }, { api: 'http://b', explanation: explanation('lb2', down) }]);
  assert.equal(report.served, false);
  const text = formatExplain(report);
  assert.match(text, /^10\.200\.0\.5:80: no answer from http:\/\/a\n/);
  assert.match(text, /^http:\/\/a: no answer: no agent is listening at http:\/\/a$/m);
  assert.match(text, /^lb2 \(http:\/\/b\):$/m);
  assert.match(text, /^ {2}BROKEN {2}announcement {2}no BGP session is Established$/m);
});

test('no agent answering at all says so once, then each reason', () => {
  const text = formatExplain(joinAnswers('10.200.0.5', [{ api: 'http://a', error: 'refused' }, { api: 'http://b', error: 'timeout' }]));
  assert.equal(text, '10.200.0.5: no agent answered\n\nhttp://a: no answer: refused\n\nhttp://b: no answer: timeout\n');
});
