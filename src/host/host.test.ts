import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CommandError, HostError, HostErrorCode } from './errors.ts';
import { createHost, type HostLogger } from './host.ts';
import { parseAddresses, parseRoutes } from './observe.ts';
import { normalizeSpec, planAddresses, planRoutes, type VipInterfaceSpec } from './plan.ts';
import type { CommandRunner } from './runner.ts';

/** Answers commands by the first matching rule and records every argv it was given. */
function recordingRunner(rules: [match: string, reply: string | CommandError][]): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run(argv) {
      const line = argv.join(' ');
      calls.push(line);
      const rule = rules.find(([match]) => line.startsWith(match));
      const reply = rule?.[1] ?? '';
      return reply instanceof CommandError ? Promise.reject(reply) : Promise.resolve(reply);
    },
  };
}

function failure(argv: string, stderr: string, exitCode = 2): CommandError {
  return new CommandError(argv.split(' '), stderr, exitCode);
}

function capturingLogger(): HostLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, warn: (m) => warnings.push(m) };
}

const spec: VipInterfaceSpec = {
  name: 'cilium_ext',
  addresses: ['10.200.0.1/24', 'fd00:200:0::1/64'],
  routes: ['10.200.0.0/16', 'fd00:200::/64'],
};

const missing = failure('ip -d -j link show dev cilium_ext', 'Device "cilium_ext" does not exist.', 1);
const ourDummy = JSON.stringify([
  { ifname: 'cilium_ext', flags: ['BROADCAST', 'NOARP', 'UP', 'LOWER_UP'], ifalias: 'vipgate', linkinfo: { info_kind: 'dummy' } },
]);
const addrs = (...locals: [string, number, string?][]) =>
  JSON.stringify([{ ifname: 'cilium_ext', addr_info: locals.map(([local, prefixlen, scope]) => ({ local, prefixlen, scope: scope ?? 'global' })) }]);

describe('host.apply on a kernel with the dummy driver', () => {
  test('creates, marks and fills the link with exactly these commands', async () => {
    const runner = recordingRunner([
      ['ip -d -j link show', missing],
      ['ip -j addr show', addrs()],
      ['ip -j -4 route show', '[]'],
      ['ip -j -6 route show', '[]'],
      ['sysctl -n', '0\n0\n'],
    ]);
    const report = await createHost({ runner }).apply(spec);
    assert.equal(report.kind, 'dummy');
    assert.equal(report.changed, true);
    assert.deepEqual(report.actions, [
      'ip link add cilium_ext type dummy',
      'ip link set dev cilium_ext alias vipgate',
      'ip link set dev cilium_ext up',
      'ip addr add 10.200.0.1/24 dev cilium_ext noprefixroute',
      'ip addr add fd00:200::1/64 dev cilium_ext nodad noprefixroute',
      'ip route add 10.200.0.0/16 dev cilium_ext proto 86',
      'ip -6 route add fd00:200::/64 dev cilium_ext proto 86',
      'sysctl -w net.ipv4.ip_forward=1',
      'sysctl -w net.ipv6.conf.all.forwarding=1',
    ]);
    // Reads happen too, but every change is one of the actions above.
    const changes = runner.calls.filter((c) => !c.includes(' show') && !c.startsWith('sysctl -n'));
    assert.deepEqual(changes, report.actions);
  });

  test('changes nothing when the kernel already matches', async () => {
    const runner = recordingRunner([
      ['ip -d -j link show', ourDummy],
      ['ip -j addr show', addrs(['10.200.0.1', 24], ['fd00:200::1', 64], ['fe80::1', 64, 'link'])],
      ['ip -j -4 route show', JSON.stringify([{ dst: '10.200.0.0/16', dev: 'cilium_ext' }])],
      ['ip -j -6 route show', JSON.stringify([{ dst: 'fd00:200::/64', dev: 'cilium_ext', metric: 1024 }])],
      ['sysctl -n', '1\n1\n'],
    ]);
    const report = await createHost({ runner }).apply(spec);
    assert.deepEqual(report, { kind: 'dummy', changed: false, actions: [] });
  });

  test('removes addresses and own routes that left the spec, restores a missing route', async () => {
    const runner = recordingRunner([
      ['ip -d -j link show', ourDummy],
      ['ip -j addr show', addrs(['10.200.0.1', 24], ['fd00:200::1', 64], ['10.200.9.9', 32])],
      ['ip -j -4 route show', JSON.stringify([{ dst: '10.200.0.0/16', dev: 'cilium_ext' }, { dst: '10.201.0.0/16', dev: 'cilium_ext' }])],
      ['ip -j -6 route show', '[]'],
      ['sysctl -n', '1\n1\n'],
    ]);
    const report = await createHost({ runner }).apply(spec);
    assert.deepEqual(report.actions, [
      'ip addr del 10.200.9.9/32 dev cilium_ext',
      'ip route del 10.201.0.0/16 dev cilium_ext proto 86',
      'ip -6 route add fd00:200::/64 dev cilium_ext proto 86',
    ]);
  });

  test('a link of another kind that is not ours is refused and left alone', async () => {
    const runner = recordingRunner([
      ['ip -d -j link show', JSON.stringify([{ ifname: 'cilium_ext', flags: ['UP'], linkinfo: { info_kind: 'veth' } }])],
    ]);
    await assert.rejects(createHost({ runner }).apply(spec), (e: unknown) => {
      assert.ok(e instanceof HostError);
      assert.equal(e.code, HostErrorCode.linkNotOurs);
      assert.match(e.message, /cilium_ext exists as veth/);
      return true;
    });
    assert.deepEqual(runner.calls, ['ip -d -j link show dev cilium_ext']);
  });

  test('a foreign route on the same prefix is reported as a conflict', async () => {
    const runner = recordingRunner([
      ['ip -d -j link show', ourDummy],
      ['ip -j addr show', addrs(['10.200.0.1', 24], ['fd00:200::1', 64])],
      ['ip -j -4 route show', '[]'],
      ['ip -j -6 route show', JSON.stringify([{ dst: 'fd00:200::/64', dev: 'cilium_ext' }])],
      ['ip route add 10.200.0.0/16', failure('ip route add', 'RTNETLINK answers: File exists')],
    ]);
    await assert.rejects(createHost({ runner }).apply(spec), { code: HostErrorCode.routeConflict });
  });
});

describe('host.apply without a dummy driver', () => {
  test('falls back to a port-less bridge and says so once', async () => {
    const logger = capturingLogger();
    const runner = recordingRunner([
      ['ip -d -j link show', missing],
      ['ip link add cilium_ext type dummy', failure('ip link add cilium_ext type dummy', 'Error: Unknown device type.')],
      ['ip -j addr show', addrs()],
      ['ip -j -4 route show', '[]'],
      ['ip -j -6 route show', '[]'],
      ['sysctl -n', '1\n1\n'],
    ]);
    const host = createHost({ runner, logger });
    const report = await host.apply({ name: 'cilium_ext', addresses: ['10.200.0.1/24'], routes: ['10.200.0.0/16'] });
    assert.equal(report.kind, 'bridge');
    assert.deepEqual(report.actions.slice(0, 3), [
      'ip link add cilium_ext type bridge',
      'ip link set dev cilium_ext alias vipgate',
      'ip link set dev cilium_ext up',
    ]);
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0] ?? '', /no "dummy" network device/);
    // The link vanished (deleted by hand): the second apply goes straight to the bridge, no second warning.
    runner.calls.length = 0;
    await host.apply({ name: 'cilium_ext', addresses: ['10.200.0.1/24'], routes: ['10.200.0.0/16'] });
    assert.ok(!runner.calls.some((c) => c.includes('type dummy')));
    assert.equal(logger.warnings.length, 1);
  });

  test('EOPNOTSUPP also means no dummy; other failures are errors, not fallbacks', async () => {
    const eop = recordingRunner([
      ['ip -d -j link show', missing],
      ['ip link add cilium_ext type dummy', failure('ip link add', 'RTNETLINK answers: Operation not supported')],
      ['sysctl -n', '1\n1\n'],
    ]);
    assert.equal((await createHost({ runner: eop }).apply(spec)).kind, 'bridge');
    const denied = recordingRunner([
      ['ip -d -j link show', missing],
      ['ip link add cilium_ext type dummy', failure('ip link add', 'RTNETLINK answers: Operation not permitted')],
    ]);
    // The refusal names the capability a container (the DaemonSet) is missing.
    await assert.rejects(createHost({ runner: denied }).apply(spec), { code: HostErrorCode.commandFailed, message: /Operation not permitted; changing links, addresses and routes needs CAP_NET_ADMIN$/ });
    assert.ok(!denied.calls.some((c) => c.includes('type bridge')));
  });

  test('forwarding off where /proc/sys is read-only (a container): the error says to set it on the node', async () => {
    const runner = recordingRunner([
      ['ip -d -j link show', ourDummy],
      ['sysctl -n', '0\n1\n'],
      ['sysctl -w', failure('sysctl -w net.ipv4.ip_forward=1', 'sysctl: setting key "net.ipv4.ip_forward": Read-only file system', 255)],
    ]);
    await assert.rejects(createHost({ runner }).apply(spec), { code: HostErrorCode.commandFailed, message: /Read-only file system; set it on the node instead \(\/etc\/sysctl\.d\/\)/ });
  });

  test('adopts an unmarked port-less bridge but refuses one with ports', async () => {
    const bridge = JSON.stringify([{ ifname: 'cilium_ext', flags: ['UP'], linkinfo: { info_kind: 'bridge' } }]);
    const empty = recordingRunner([['ip -d -j link show', bridge], ['ip -j link show master', '[]'], ['sysctl -n', '1\n1\n']]);
    const report = await createHost({ runner: empty }).apply(spec);
    assert.equal(report.actions[0], 'ip link set dev cilium_ext alias vipgate');
    const withPorts = recordingRunner([['ip -d -j link show', bridge], ['ip -j link show master', JSON.stringify([{ ifname: 'eth1' }])]]);
    await assert.rejects(createHost({ runner: withPorts }).apply(spec), /bridge with ports \(eth1\)/);
  });
});

describe('host.cleanup', () => {
  test('deletes our link and nothing else', async () => {
    const runner = recordingRunner([['ip -d -j link show', ourDummy]]);
    assert.deepEqual(await createHost({ runner }).cleanup(spec), { changed: true, actions: ['ip link del dev cilium_ext'] });
  });
  test('leaves a link without our mark alone', async () => {
    const runner = recordingRunner([
      ['ip -d -j link show', JSON.stringify([{ ifname: 'cilium_ext', flags: ['UP'], linkinfo: { info_kind: 'dummy' } }])],
    ]);
    assert.deepEqual(await createHost({ runner }).cleanup(spec), { changed: false, actions: [] });
    assert.deepEqual(runner.calls, ['ip -d -j link show dev cilium_ext']);
  });
});

describe('spec and parsing', () => {
  test('bad names, addresses and routes name what is wrong', () => {
    assert.throws(() => normalizeSpec({ ...spec, name: 'a-name-longer-than-15' }), /1 to 15 characters/);
    assert.throws(() => normalizeSpec({ ...spec, addresses: ['10.200.0.1'] }), /needs a prefix length/);
    assert.throws(() => normalizeSpec({ ...spec, routes: ['10.200.0.1/16'] }), (e: unknown) => e instanceof HostError && e.code === HostErrorCode.badSpec && /host bits/.test(e.message));
  });
  test('kernel route listings normalise /32 and default', () => {
    assert.deepEqual(parseRoutes(JSON.stringify([{ dst: '10.200.0.7', dev: 'x' }, { dst: 'default', dev: 'y' }]), 4), [
      { dst: '10.200.0.7/32', dev: 'x' },
      { dst: '0.0.0.0/0', dev: 'y' },
    ]);
    assert.throws(() => parseAddresses('not json'), { code: HostErrorCode.badKernelReply });
  });
  test('planning against what the plan produces changes nothing (property)', () => {
    const v4 = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 8, max: 32 })).map(([o, len]) => `10.200.${o}.1/${len}`);
    fc.assert(
      fc.property(fc.uniqueArray(v4, { maxLength: 5 }), fc.uniqueArray(v4, { maxLength: 5 }), (desired, observed) => {
        const plan = planAddresses('v', desired, observed);
        const after = new Set(observed);
        for (const argv of plan) {
          if (argv[2] === 'add') after.add(argv[3]!);
          else after.delete(argv[3]!);
        }
        assert.deepEqual([...after].sort(), [...desired].sort());
        assert.deepEqual(planAddresses('v', desired, [...after]), []);
      }),
    );
    assert.deepEqual(planRoutes('v', ['10.0.0.0/8'], [{ dst: '10.0.0.0/8', dev: 'old' }]), [
      ['ip', 'route', 'del', '10.0.0.0/8', 'dev', 'old', 'proto', '86'],
      ['ip', 'route', 'add', '10.0.0.0/8', 'dev', 'v', 'proto', '86'],
    ]);
  });
});
