// The XDP dataplane on a real path: client ─ lb1 (XDP, generic mode, nat) ─ node1 ─ pods.
// Without the program lb1 has no route for the VIP, so an answer proves the XDP path carried it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Lab, benchTopology } from '../lab/index.ts';
import type { Frontend, ServiceTable } from '../src/model/index.ts';
import { readyBackend, webFrontend } from './support/frontends.ts';
import { buildBpfObject } from '../src/dataplane/xdp/index.ts';

const CHILD = fileURLToPath(new URL('./support/xdp-lab-child.ts', import.meta.url));
const VIP = { v4: '10.200.0.5', v6: 'fd00:200::5' };
const PODS = { v4: ['10.100.1.41', '10.100.1.42'], v6: ['fd00:100:1::41', 'fd00:100:1::42'] };

const frontend = (address: string, protocol: 'tcp' | 'udp', pods: readonly string[]): Frontend => webFrontend(address, protocol, pods.map((p) => readyBackend(p, 80)));

let lab: Lab;

before(async () => {
  buildBpfObject();
  lab = await Lab.up(benchTopology({ backends: 2 }));
  await lab.startBackends({ port: 80 });
  const table: ServiceTable = {
    frontends: [frontend(VIP.v4, 'tcp', PODS.v4), frontend(VIP.v4, 'udp', PODS.v4), frontend(VIP.v6, 'tcp', PODS.v6)],
    denySources: [],
  };
  const options = { interfaces: ['cl', 'dc'], mode: 'generic', forwarding: 'nat', snatAddresses: { v4: '10.180.1.16', v6: 'fd00:180:1::16' } };
  const child = await lab.spawn('lb1', [process.execPath, '--import', 'tsx', CHILD, JSON.stringify({ options, table })]);
  await child.waitForLine(/^ready /, 20_000);
  // The program forwards by FIB lookup and leaves packets whose next hop has no neighbour entry
  // yet to the kernel; resolve lb1's neighbours (node1, client) first, as normal traffic would.
  for (const [address, port] of [['10.100.1.41', 80], ['10.0.1.2', 9], ['fd00:100:1::41', 80], ['fd00:1::2', 9]] as const) {
    await lab.udp('lb1', address, port, { timeoutMs: 300 });
  }
});

after(async () => {
  await lab.down();
});

test('curl through the v4 VIP gets a pod’s answer, and both pods take flows', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const r = await lab.curl('client', `http://${VIP.v4}/`, { timeoutMs: 3000 });
    assert.equal(r.error, undefined, `request ${i}: ${JSON.stringify(r)}`);
    seen.add(r.body.trim());
  }
  assert.ok([...seen].every((b) => /pod[12]/.test(b)), `answers: ${[...seen].join(', ')}`);
  assert.equal(seen.size, 2, `Maglev spreads new connections: saw ${[...seen].join(', ')}`);
});

test('curl through the v6 VIP, and UDP through the v4 VIP', async () => {
  const r = await lab.curl('client', `http://[${VIP.v6}]/`, { timeoutMs: 3000 });
  assert.equal(r.error, undefined, JSON.stringify(r));
  assert.match(r.body, /pod[12]/);
  const udp = await lab.udp('client', VIP.v4, 80, { timeoutMs: 2000 });
  assert.match(udp ?? '(no reply)', /pod[12]/);
});
