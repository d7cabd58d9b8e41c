import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from './errors.ts';
import { parseConfig } from './load.ts';

const xdpOf = (xdp: string) =>
  parseConfig(`apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\ndataplane:\n  engine: xdp\n  xdp: ${xdp}\n`, 'lb1.yaml', { hostname: 'lb1' }).dataplane.xdp;

const refusal = (xdp: string): string => {
  try {
    xdpOf(xdp);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.format();
  }
  assert.fail(`accepted: ${xdp}`);
};

test('dataplane.xdp: nat with MTU 1500 and GUE port 6080 unless given', () => {
  const xdp = xdpOf('{ interfaces: [eth0] }');
  assert.deepEqual({ forwarding: xdp?.forwarding, mtu: xdp?.mtu, guePort: xdp?.guePort }, { forwarding: 'nat', mtu: 1500, guePort: 6080 });
});

test('dataplane.xdp: ipip and gue with their MTU and port', () => {
  const xdp = xdpOf('{ interfaces: [eth0], forwarding: gue, snatAddresses: [10.180.1.16, "fd00:180:1::16"], mtu: 9000, guePort: 5555 }');
  assert.deepEqual({ forwarding: xdp?.forwarding, mtu: xdp?.mtu, guePort: xdp?.guePort }, { forwarding: 'gue', mtu: 9000, guePort: 5555 });
  assert.equal(xdpOf('{ interfaces: [eth0], forwarding: ipip, snatAddresses: [10.180.1.16] }')?.forwarding, 'ipip');
});

test('dataplane.xdp: refusals name what is allowed', () => {
  assert.match(refusal('{ interfaces: [eth0], forwarding: gre }'), /forwarding.*one of nat, dsr-l2, ipip, gue/);
  assert.match(refusal('{ interfaces: [eth0], mtu: 1280 }'), /mtu.*1328–65535/);
  assert.match(refusal('{ interfaces: [eth0], guePort: 0 }'), /guePort.*1–65535/);
  // The outer header's source: without one every VIP packet would be dropped.
  assert.match(refusal('{ interfaces: [eth0], forwarding: ipip }'), /snatAddresses.*forwarding ipip needs this node's address/);
});
