// The l2 section against the node's real interfaces: a file naming an interface the node does not
// have, or a pool outside the interface's subnet, is refused at start (nothing started, the file,
// field, value and the node's interfaces named); the same mistake in a reload is refused and the
// last good settings keep answering.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../lab/run.ts';
import { L2_LAB, l2Config, l2Topology } from '../lab/scenario-l2.ts';
import { Lab } from '../lab/lab.ts';
import { lbAgent, VIPGATE_BIN, type LbAgent } from '../lab/scenario.ts';
import { eventually } from './support/eventually.ts';

describe('the l2 section checked against the node', { concurrency: false, timeout: 90_000 }, () => {
  let lab: Lab;
  let dir: string;
  let lb1: LbAgent;
  before(async () => {
    lab = await Lab.up(l2Topology());
    dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-l2cfg-`));
    await lab.startBackends();
    lb1 = await lbAgent(lab, 'lb1', dir, l2Config('lb1'));
  });
  after(async () => {
    await lb1.stopAgent();
    await lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  test('an interface the node lacks: the agent does not start, and says which and what exists', async () => {
    await lb1.writeConfig(l2Config('lb1').replace('interfaces: [lan]', 'interfaces: [eth9]'));
    const r = await runCommand(['ip', 'netns', 'exec', lab.ns('lb1'), VIPGATE_BIN, 'agent', '--config', lb1.configPath, '--state-file', join(dir, 'refused.json')], { timeoutMs: 30_000 });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /config refused, nothing started/);
    assert.match(r.stderr, new RegExp(lb1.configPath.replaceAll('.', '\\.')));
    assert.match(r.stderr, /l2\.advertisements\[0\]\.interfaces\[0\]/);
    assert.match(r.stderr, /"eth9"/);
    assert.match(r.stderr, /\blan\b/, 'names the interfaces that exist');
    const tables = await lab.exec('lb1', ['nft', 'list', 'tables']);
    assert.doesNotMatch(tables, /vipgate/, 'nothing was started');
  });

  test('a pool outside the interface subnet in a reload: refused, the last good settings keep answering', async () => {
    await lb1.writeConfig(l2Config('lb1'));
    await lb1.startAgent();
    const vip = L2_LAB.vips[0]!.v4;
    await eventually(`${vip} to answer`, async () => ((await lab.curl('client', `http://${vip}/`, { timeoutMs: 1000 })).ok ? true : undefined), 20_000);
    await lb1.writeConfig(l2Config('lb1').replace(/- name: lan\n {4}addresses: \[[^\]]*\]/, '- name: lan\n    addresses: [10.181.0.200-10.181.0.205]'));
    const refused = await eventually('the reload to be refused', async () => {
      const text = await lb1.vipgate(['status']);
      return /Config refused/.test(text) ? text : undefined;
    }, 15_000);
    assert.match(refused, /pool "?lan"?/);
    assert.match(refused, /10\.180\.1\.0\/24/, "names the interface's subnet");
    assert.equal((await lab.curl('client', `http://${vip}/`, { timeoutMs: 2000 })).status, 200, 'still answering');
  });
});
