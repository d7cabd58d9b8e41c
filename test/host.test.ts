// host.apply for real, inside a lab namespace on this kernel (no dummy driver: the bridge
// fallback is what runs here). Checks what a user would see with `ip`: the link, its addresses,
// vipgate's routes, forwarding — and that someone else's address is never touched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Lab } from '../lab/index.ts';
import { createCommandRunner, createHost, type HostLogger, type VipInterfaceSpec } from '../src/host/index.ts';

const spec: VipInterfaceSpec = {
  name: 'cilium_ext',
  addresses: ['10.200.0.1/24', 'fd00:200::1/64'],
  routes: ['10.200.0.0/16', 'fd00:200::/64'],
};

describe('host.apply in a namespace', () => {
  let lab: Lab | undefined;
  const warnings: string[] = [];
  const logger: HostLogger = { info: () => undefined, warn: (m) => warnings.push(m) };
  let host: ReturnType<typeof createHost>;
  const ip = async (...args: string[]): Promise<unknown> => JSON.parse((await lab!.exec('lb1', ['ip', '-j', ...args])) || '[]');

  before(async () => {
    lab = await Lab.up({
      hosts: [{ name: 'lb1' }, { name: 'peer' }],
      segments: [{ name: 'dc', members: [{ host: 'lb1', addresses: ['10.180.1.16/24'] }, { host: 'peer', addresses: ['10.180.1.1/24'] }] }],
    });
    host = createHost({ runner: createCommandRunner({ netns: lab.ns('lb1') }), logger });
  });
  after(async () => {
    await lab?.down();
  });

  test('apply makes the link, addresses, routes and forwarding; says once that it fell back', async () => {
    const report = await host.apply(spec);
    assert.equal(report.kind, 'bridge');
    assert.equal(report.changed, true);
    assert.equal(warnings.length, 1);
    const [link] = (await ip('-d', 'link', 'show', 'dev', 'cilium_ext')) as { ifalias?: string; flags: string[]; linkinfo: { info_kind: string } }[];
    assert.equal(link?.ifalias, 'vipgate');
    assert.ok(link.flags.includes('UP'));
    const addresses = ((await ip('addr', 'show', 'dev', 'cilium_ext')) as { addr_info: { local: string; prefixlen: number; scope: string }[] }[])[0]!.addr_info
      .filter((a) => a.scope === 'global')
      .map((a) => `${a.local}/${a.prefixlen}`);
    assert.deepEqual(addresses.sort(), ['10.200.0.1/24', 'fd00:200::1/64']);
    assert.deepEqual(((await ip('route', 'show', 'proto', '86')) as { dst: string; dev: string }[]).map((r) => `${r.dst} ${r.dev}`), ['10.200.0.0/16 cilium_ext']);
    assert.deepEqual(((await ip('-6', 'route', 'show', 'proto', '86')) as { dst: string }[]).map((r) => r.dst), ['fd00:200::/64']);
    assert.equal((await lab!.exec('lb1', ['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'])).trim(), '1\n1');
    // A VIP-CIDR address is reachable locally at once (no DAD wait for IPv6).
    assert.equal((await lab!.curl('lb1', 'http://[fd00:200::1]:9/', { timeoutMs: 1000 })).error?.includes("Couldn't connect"), true);
  });

  test('a second apply changes nothing', async () => {
    assert.deepEqual(await host.apply(spec), { kind: 'bridge', changed: false, actions: [] });
  });

  test('a route removed by hand comes back; a foreign address elsewhere is untouched', async () => {
    await lab!.exec('lb1', ['ip', 'route', 'del', '10.200.0.0/16', 'dev', 'cilium_ext']);
    await lab!.exec('lb1', ['ip', 'addr', 'add', '192.0.2.7/32', 'dev', 'dc']);
    const report = await host.apply(spec);
    assert.deepEqual(report.actions, ['ip route add 10.200.0.0/16 dev cilium_ext proto 86']);
    const dc = (await ip('addr', 'show', 'dev', 'dc')) as { addr_info: { local: string }[] }[];
    assert.ok(dc[0]!.addr_info.some((a) => a.local === '192.0.2.7'));
  });

  test('a narrower spec removes what left it and nothing of others', async () => {
    await lab!.exec('lb1', ['ip', 'route', 'add', '10.201.0.0/16', 'via', '10.180.1.1']);
    const report = await host.apply({ name: 'cilium_ext', addresses: ['10.200.0.1/24'], routes: ['10.200.0.0/16'] });
    assert.deepEqual(report.actions, ['ip addr del fd00:200::1/64 dev cilium_ext', 'ip -6 route del fd00:200::/64 dev cilium_ext proto 86']);
    assert.equal(((await ip('route', 'show', '10.201.0.0/16')) as unknown[]).length, 1);
  });

  test('a link of that name that is not vipgate\'s is refused and left alone', async () => {
    const other = createHost({ runner: createCommandRunner({ netns: lab!.ns('lb1') }) });
    await assert.rejects(other.apply({ name: 'dc', addresses: ['10.200.0.1/24'], routes: [] }), { code: 'HOST_LINK_NOT_OURS' });
    assert.deepEqual(await other.cleanup({ name: 'dc', addresses: [], routes: [] }), { changed: false, actions: [] });
    assert.equal(((await ip('link', 'show', 'dev', 'dc')) as unknown[]).length, 1);
  });

  test('cleanup removes the link and its routes, and keeps the foreign address and route', async () => {
    assert.equal((await host.cleanup(spec)).changed, true);
    await assert.rejects(lab!.exec('lb1', ['ip', 'link', 'show', 'dev', 'cilium_ext']), /does not exist/);
    assert.deepEqual(await ip('route', 'show', 'proto', '86'), []);
    assert.equal(((await ip('route', 'show', '10.201.0.0/16')) as unknown[]).length, 1);
    const dc = (await ip('addr', 'show', 'dev', 'dc')) as { addr_info: { local: string }[] }[];
    assert.ok(dc[0]!.addr_info.some((a) => a.local === '192.0.2.7'));
  });
});
