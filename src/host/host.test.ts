// Unit tests for the host module: the pure half (spec normalisation, parsing `ip -j`, the diff
// in plan.ts) and the decisions a namespace on this kernel cannot show, answered by a fake that
// replies like a kernel which has the dummy driver, or which refuses it with another message. What
// apply and cleanup leave in a real namespace is checked in test/host.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CommandError, HostError, HostErrorCode } from './errors.ts';
import { createHost, type HostLogger } from './host.ts';
import { parseAddresses, parseLinkShow, parseRoutes } from './observe.ts';
import { normalizeSpec, planAddresses, planRoutes, type VipInterfaceSpec } from './plan.ts';
import type { CommandRunner } from './runner.ts';

/** Answers commands by the first matching rule (a prefix of the command line). */
function fakeKernel(rules: [match: string, reply: string | CommandError][]): CommandRunner {
  return {
    run(argv) {
      const line = argv.join(' ');
      const reply = rules.find(([match]) => line.startsWith(match))?.[1] ?? '';
      return reply instanceof CommandError ? Promise.reject(reply) : Promise.resolve(reply);
    },
  };
}

function failure(argv: string, stderr: string, exitCode = 2): CommandError {
  return new CommandError(argv.split(' '), stderr, exitCode);
}

function capturingLogger(): HostLogger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, info: (m) => infos.push(m), warn: (m) => warnings.push(m) };
}

const spec: VipInterfaceSpec = {
  name: 'cilium_ext',
  addresses: ['10.200.0.1/24', 'fd00:200:0::1/64'],
  routes: ['10.200.0.0/16', 'fd00:200::/64'],
};

const missing = failure('ip -d -j link show dev cilium_ext', 'Device "cilium_ext" does not exist.', 1);

describe('the link kind where a namespace here cannot show it', () => {
  test('a kernel with the dummy driver gets a dummy, and no fallback is announced', async () => {
    const logger = capturingLogger();
    const report = await createHost({ runner: fakeKernel([['ip -d -j link show', missing], ['sysctl -n', '1\n1\n']]), logger }).apply(spec);
    assert.equal(report.kind, 'dummy');
    assert.deepEqual(logger.warnings, []);
  });

  test('EOPNOTSUPP also means no dummy: the bridge fallback, announced once', async () => {
    const logger = capturingLogger();
    const runner = fakeKernel([
      ['ip -d -j link show', missing],
      ['ip link add cilium_ext type dummy', failure('ip link add', 'RTNETLINK answers: Operation not supported')],
      ['sysctl -n', '1\n1\n'],
    ]);
    assert.equal((await createHost({ runner, logger }).apply(spec)).kind, 'bridge');
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0] ?? '', /no "dummy" network device/);
  });

  test('an unmarked dummy of that name is adopted, and says so', async () => {
    const logger = capturingLogger();
    const unmarked = JSON.stringify([{ ifname: 'cilium_ext', flags: ['UP'], linkinfo: { info_kind: 'dummy' } }]);
    const report = await createHost({ runner: fakeKernel([['ip -d -j link show', unmarked], ['sysctl -n', '1\n1\n']]), logger }).apply(spec);
    assert.equal(report.kind, 'dummy');
    assert.equal(report.changed, true);
    assert.match(logger.infos.join('\n'), /adopting existing dummy link cilium_ext/);
  });
});

describe('spec and parsing', () => {
  test('bad names, addresses and routes name what is wrong', () => {
    assert.throws(() => normalizeSpec({ ...spec, name: 'a-name-longer-than-15' }), /1 to 15 characters/);
    assert.throws(() => normalizeSpec({ ...spec, addresses: ['10.200.0.1'] }), /needs a prefix length/);
    assert.throws(() => normalizeSpec({ ...spec, routes: ['10.200.0.1/16'] }), (e: unknown) => e instanceof HostError && e.code === HostErrorCode.badSpec && /host bits/.test(e.message));
    assert.deepEqual(normalizeSpec({ ...spec, addresses: [...spec.addresses, 'FD00:200::1/64'] }).addresses, ['10.200.0.1/24', 'fd00:200::1/64']);
  });
  test('kernel route listings normalise /32 and default', () => {
    assert.deepEqual(parseRoutes(JSON.stringify([{ dst: '10.200.0.7', dev: 'x' }, { dst: 'default', dev: 'y' }]), 4), [
      { dst: '10.200.0.7/32', dev: 'x' },
      { dst: '0.0.0.0/0', dev: 'y' },
    ]);
    assert.throws(() => parseAddresses('not json'), { code: HostErrorCode.badKernelReply });
  });
  test('address listings leave out the kernel\'s link- and host-scope addresses; link listings read kind, mark and state', () => {
    const listing = JSON.stringify([
      { ifname: 'cilium_ext', addr_info: [{ local: '10.200.0.1', prefixlen: 24, scope: 'global' }, { local: 'fd00:200:0:0::1', prefixlen: 64, scope: 'global' }, { local: 'fe80::1', prefixlen: 64, scope: 'link' }] },
    ]);
    assert.deepEqual(parseAddresses(listing), ['10.200.0.1/24', 'fd00:200::1/64']);
    assert.deepEqual(parseLinkShow(JSON.stringify([{ ifname: 'cilium_ext', flags: ['BROADCAST', 'UP'], ifalias: 'vipgate', linkinfo: { info_kind: 'bridge' } }])), {
      name: 'cilium_ext',
      kind: 'bridge',
      alias: 'vipgate',
      up: true,
    });
    assert.equal(parseLinkShow('[]'), undefined);
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
  });
  test('vipgate\'s route on another device is moved; a correct one is kept', () => {
    assert.deepEqual(planRoutes('v', ['10.0.0.0/8', '10.1.0.0/16'], [{ dst: '10.0.0.0/8', dev: 'old' }, { dst: '10.1.0.0/16', dev: 'v' }]), [
      ['ip', 'route', 'del', '10.0.0.0/8', 'dev', 'old', 'proto', '86'],
      ['ip', 'route', 'add', '10.0.0.0/8', 'dev', 'v', 'proto', '86'],
    ]);
  });
});
