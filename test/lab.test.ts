// The lab itself, for real: the demo network carries traffic along the walk-through's paths,
// the root namespace is left exactly as it was, and nothing survives down() — not even a lab
// whose owner was killed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DEMO, demoTopology, Lab } from '../lab/index.ts';
import { rootSnapshot, type RootSnapshot } from './support/lab-root-snapshot.ts';

const namespacesWith = (prefix: string): string[] => {
  try {
    return readdirSync('/run/netns').filter((ns) => ns.startsWith(`${prefix}-`));
  } catch {
    return [];
  }
};

describe('demo topology', () => {
  let rootBefore: RootSnapshot;
  let lab: Lab | undefined;

  before(async () => {
    rootBefore = rootSnapshot();
    lab = await Lab.up(demoTopology());
    await lab.startBackends();
  });
  after(async () => {
    await lab?.down();
  });

  test('every host is a namespace named <prefix>-<host>', () => {
    assert.match(lab!.prefix, /^vg[0-9a-f]{4}$/);
    assert.deepEqual(namespacesWith(lab!.prefix).sort(), ['client', 'lb1', 'node1', 'node2', 'pod1a', 'pod1b', 'pod2a', 'router'].map((h) => `${lab!.prefix}-${h}`).sort());
  });

  test('lb1 reaches every pod through its node (IPv4 and IPv6), and each answers with its name', async () => {
    for (const [name, pod] of Object.entries(DEMO.pods)) {
      const v4 = await lab!.curl('lb1', `http://${pod.v4}/`);
      assert.deepEqual([v4.status, v4.body, v4.backend], [200, `${name}\n`, name], `${pod.v4}: ${v4.error ?? ''}`);
      const v6 = await lab!.curl('lb1', `http://[${pod.v6}]/`);
      assert.deepEqual([v6.status, v6.body], [200, `${name}\n`], `${pod.v6}: ${v6.error ?? ''}`);
    }
  });

  test('UDP crosses the datacenter bridge and back (the lab has no ping)', async () => {
    assert.equal(await lab!.udp('lb1', DEMO.pods.pod2a.v4, 80), 'pod2a\n');
    assert.equal(await lab!.udp('lb1', DEMO.pods.pod1b.v6, 80), 'pod1b\n');
    // Nothing listens on 81: no reply, and the probe says so instead of hanging.
    assert.equal(await lab!.udp('lb1', DEMO.pods.pod1b.v4, 81, { timeoutMs: 300 }), undefined);
  });

  test('the router sends the VIP CIDR to lb1, as in the walk-through step 5', async () => {
    const v4 = JSON.parse(await lab!.exec('router', ['ip', '-j', 'route', 'show', DEMO.vipCidr.v4])) as { gateway?: string }[];
    assert.equal(v4[0]?.gateway, DEMO.lbNode.v4);
    const v6 = JSON.parse(await lab!.exec('router', ['ip', '-j', '-6', 'route', 'show', DEMO.vipCidr.v6])) as { gateway?: string }[];
    assert.equal(v6[0]?.gateway, DEMO.lbNode.v6);
    // The client's packets for a VIP get as far as lb1, which has nothing on port 80 yet: refused, not timed out.
    const refused = await lab!.curl('client', 'http://10.200.0.5/', { timeoutMs: 1500 });
    assert.equal(refused.ok, false);
    assert.doesNotMatch(refused.error ?? '', /timed out/i);
  });

  test('a bounded request loop counts answers and backends', async () => {
    const loop = await lab!.requestLoop('lb1', `http://${DEMO.pods.pod1a.v4}/`, { count: 30, maxMs: 10_000, concurrency: 3 });
    assert.equal(loop.outcomes.length, 30);
    assert.equal(loop.failed, 0);
    assert.deepEqual([...loop.backends], ['pod1a']);
    const dead = await lab!.requestLoop('lb1', `http://${DEMO.pods.pod1a.v4}:81/`, { count: 3, maxMs: 5000 });
    assert.equal(dead.failed, 3);
    const cut = await lab!.requestLoop('client', 'http://10.0.1.99/', { count: 50, maxMs: 500, timeoutMs: 5000 });
    assert.equal(cut.cutShort, true);
  });

  test('the root namespace gained no link, address or route', () => {
    assert.deepEqual(rootSnapshot(), rootBefore);
  });

  test('down() removes every namespace and the state file; the root namespace is as before', async () => {
    const prefix = lab!.prefix;
    const report = await lab!.down();
    lab = undefined;
    assert.equal(report.killed.length, 3);
    assert.deepEqual(namespacesWith(prefix), []);
    assert.equal(existsSync(`/run/vipgate/labs/${prefix}.json`), false);
    assert.deepEqual(rootSnapshot(), rootBefore);
  });
});

describe('a lab whose owner was killed', () => {
  const prefix = `vgo${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
  after(async () => {
    await Lab.down(prefix);
  });

  test('is listed as ownerless and Lab.down(prefix) removes it with its processes', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/lab-orphan.ts', prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('orphan lab did not come up in 20 s')), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await exited;
    const status = (await Lab.list()).find((s) => s.prefix === prefix);
    assert.ok(status, 'the leftover lab is listed');
    assert.equal(status.ownerAlive, false);
    assert.equal(status.processesAlive, 1);
    assert.deepEqual([...status.namespaces].sort(), [`${prefix}-node`, `${prefix}-pod`]);

    const report = await Lab.down(prefix);
    assert.equal(report.killed.length, 1);
    assert.deepEqual(namespacesWith(prefix), []);
    assert.equal((await Lab.list()).some((s) => s.prefix === prefix), false);
  });
});
