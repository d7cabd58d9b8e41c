// host.apply and host.cleanup for real, each test in a fresh lab namespace. Every assertion is
// about the state left in the namespace, read back the way a user would (`ip -j -d link show`,
// `ip -j addr show`, `ip -j route show`, sysctl), not about which commands ran: the VIP interface
// (a dummy link, or on a kernel without the dummy driver — this one — the documented fallback,
// a port-less bridge), exactly the gateway addresses, vipgate's routes, forwarding; a second
// apply changes nothing; a changed spec converges; drift is repaired; what vipgate does not own
// is left alone; cleanup removes only what it owns.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { Lab } from '../lab/index.ts';
import { createCommandRunner, createHost, HostErrorCode, type CommandRunner, type Host, type HostLogger, type VipInterfaceSpec } from '../src/host/index.ts';

type Json = Record<string, unknown>;

const VIP = 'cilium_ext';
const spec: VipInterfaceSpec = {
  name: VIP,
  // Not canonical on purpose: the kernel reports fd00:200::1.
  addresses: ['10.200.0.1/24', 'fd00:200:0::1/64'],
  routes: ['10.200.0.0/16', 'fd00:200::/64'],
};

/**
 * A fresh namespace for one test: lb1 (where vipgate runs) with a veth "dc" to a peer. Forwarding
 * starts off (a new namespace may inherit it on from the root namespace), so "forwarding is on"
 * is something apply did.
 */
async function freshLab(t: TestContext): Promise<Lab> {
  const lab = await Lab.up({
    hosts: [{ name: 'lb1', sysctls: { 'net.ipv4.ip_forward': '0', 'net.ipv6.conf.all.forwarding': '0' } }, { name: 'peer' }],
    segments: [{ name: 'dc', members: [{ host: 'lb1', addresses: ['10.180.1.16/24', 'fd00:180::16/64'] }, { host: 'peer', addresses: ['10.180.1.1/24', 'fd00:180::1/64'] }] }],
  });
  t.after(() => lab.down());
  return lab;
}

function hostIn(lab: Lab, logger?: HostLogger): Host {
  return createHost({ runner: createCommandRunner({ netns: lab.ns('lb1') }), ...(logger === undefined ? {} : { logger }) });
}

function warningsLogger(): HostLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, warn: (m) => warnings.push(m) };
}

const sh = (lab: Lab, ...argv: string[]): Promise<string> => lab.exec('lb1', argv);

async function ipJson(lab: Lab, ...args: string[]): Promise<Json[]> {
  return JSON.parse((await sh(lab, 'ip', '-j', ...args)) || '[]') as Json[];
}

let dummyKind: Promise<'dummy' | 'bridge'> | undefined;
/** What the VIP interface must be on this kernel: a dummy where the driver exists, else the bridge fallback. */
function expectedKind(lab: Lab): Promise<'dummy' | 'bridge'> {
  dummyKind ??= sh(lab, 'ip', 'link', 'add', 'vgprobe0', 'type', 'dummy').then(
    async () => {
      await sh(lab, 'ip', 'link', 'del', 'vgprobe0');
      return 'dummy' as const;
    },
    (error: unknown) => {
      assert.match(String(error), /Unknown device type|not supported/i);
      return 'bridge' as const;
    },
  );
  return dummyKind;
}

interface LinkState {
  readonly kind: string | undefined;
  readonly alias: string | undefined;
  readonly up: boolean;
  readonly master: string | undefined;
}

/** `ip -j -d link show`, by name. */
async function links(lab: Lab): Promise<Record<string, LinkState>> {
  const out: Record<string, LinkState> = {};
  for (const l of await ipJson(lab, '-d', 'link', 'show')) {
    const info = l['linkinfo'] as Json | undefined;
    out[String(l['ifname'])] = {
      kind: info?.['info_kind'] as string | undefined,
      alias: l['ifalias'] as string | undefined,
      up: (l['flags'] as string[]).includes('UP'),
      master: l['master'] as string | undefined,
    };
  }
  return out;
}

/** `ip -j addr show`: "dev address/len" for every address except the kernel's link-local ones. */
async function addresses(lab: Lab): Promise<string[]> {
  return (await ipJson(lab, 'addr', 'show'))
    .flatMap((l) => (l['addr_info'] as Json[]).filter((a) => a['scope'] !== 'link').map((a) => `${String(l['ifname'])} ${String(a['local'])}/${String(a['prefixlen'])}`))
    .sort();
}

/** The global addresses on the VIP interface. */
async function vipAddresses(lab: Lab): Promise<string[]> {
  return (await addresses(lab)).filter((a) => a.startsWith(`${VIP} `)).map((a) => a.slice(VIP.length + 1));
}

/** `ip -j route show` and `ip -j -6 route show` (the main table, what `ip route` shows). */
async function routes(lab: Lab): Promise<string[]> {
  const rows = [...(await ipJson(lab, '-4', 'route', 'show')), ...(await ipJson(lab, '-6', 'route', 'show'))];
  return rows
    .map((r) => {
      const [dst, gateway, dev, protocol] = (['dst', 'gateway', 'dev', 'protocol'] as const).map((k) => r[k] as string | undefined);
      return [dst, gateway === undefined ? '' : `via ${gateway}`, `dev ${dev ?? '-'}`, `proto ${protocol ?? 'boot'}`].filter((s) => s !== '').join(' ');
    })
    .sort();
}

/** vipgate's routes (protocol 86), "prefix dev". */
async function ourRoutes(lab: Lab): Promise<string[]> {
  const rows = [...(await ipJson(lab, '-4', 'route', 'show', 'proto', '86')), ...(await ipJson(lab, '-6', 'route', 'show', 'proto', '86'))];
  return rows.map((r) => `${String(r['dst'])} ${String(r['dev'])}`).sort();
}

async function forwarding(lab: Lab): Promise<string> {
  return (await sh(lab, 'sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding')).trim().split('\n').join(' ');
}

interface NsState {
  readonly links: Record<string, LinkState>;
  readonly addresses: readonly string[];
  readonly routes: readonly string[];
  readonly forwarding: string;
}

async function snapshot(lab: Lab): Promise<NsState> {
  return { links: await links(lab), addresses: await addresses(lab), routes: await routes(lab), forwarding: await forwarding(lab) };
}

/** The state with the VIP interface, its addresses and the routes through it left out: what is not vipgate's. */
function othersOf(state: NsState): Omit<NsState, 'forwarding'> {
  const { [VIP]: _vip, ...links } = state.links;
  return { links, addresses: state.addresses.filter((a) => !a.startsWith(`${VIP} `)), routes: state.routes.filter((r) => !r.includes(` dev ${VIP} `)) };
}

/** The namespace holds the VIP interface exactly as `want` describes (addresses and routes canonical). */
async function assertVip(lab: Lab, want: { addresses: string[]; routes: string[] }): Promise<void> {
  const link = (await links(lab))[VIP];
  assert.ok(link !== undefined, `${VIP} exists`);
  assert.equal(link.kind, await expectedKind(lab));
  assert.equal(link.alias, 'vipgate');
  assert.equal(link.up, true);
  assert.equal(link.master, undefined);
  assert.deepEqual(await vipAddresses(lab), [...want.addresses].sort());
  assert.deepEqual(await ourRoutes(lab), want.routes.map((r) => `${r} ${VIP}`).sort());
  assert.equal(await forwarding(lab), '1 1');
}

const specState = { addresses: ['10.200.0.1/24', 'fd00:200::1/64'], routes: ['10.200.0.0/16', 'fd00:200::/64'] };

describe('host.apply in a fresh namespace', () => {
  test('makes the VIP interface (or the bridge fallback, said once), exactly the gateway addresses, the routes and forwarding', async (t) => {
    const lab = await freshLab(t);
    assert.equal(await forwarding(lab), '0 0');
    const logger = warningsLogger();
    const report = await hostIn(lab, logger).apply(spec);
    const kind = await expectedKind(lab);
    assert.equal(report.kind, kind);
    assert.equal(report.changed, true);
    await assertVip(lab, specState);
    // The routes are on the VIP interface only, and no prefix route came with the addresses.
    assert.deepEqual((await routes(lab)).filter((r) => r.includes(` dev ${VIP} `) && !r.startsWith('fe80::')), ['10.200.0.0/16 dev cilium_ext proto 86', 'fd00:200::/64 dev cilium_ext proto 86']);
    assert.deepEqual(logger.warnings.length, kind === 'bridge' ? 1 : 0);
    if (kind === 'bridge') assert.match(logger.warnings[0] ?? '', /no "dummy" network device/);
    // The IPv6 gateway address is usable at once (no DAD wait): a connection is refused, not unroutable.
    assert.match((await lab.curl('lb1', 'http://[fd00:200::1]:9/', { timeoutMs: 1000 })).error ?? '', /Couldn't connect/);
  });

  test('a second apply changes nothing in the namespace', async (t) => {
    const lab = await freshLab(t);
    const host = hostIn(lab);
    await host.apply(spec);
    const before = await snapshot(lab);
    assert.deepEqual(await host.apply(spec), { kind: await expectedKind(lab), changed: false, actions: [] });
    assert.deepEqual(await snapshot(lab), before);
  });

  test('a changed spec converges: addresses and routes removed, added and changed', async (t) => {
    const lab = await freshLab(t);
    const host = hostIn(lab);
    await host.apply(spec);
    const changed: VipInterfaceSpec = { name: VIP, addresses: ['10.200.0.1/25', '10.201.0.1/24', 'fd00:201::1/64'], routes: ['10.200.0.0/17', '10.201.0.0/16', 'fd00:201::/64'] };
    assert.equal((await host.apply(changed)).changed, true);
    await assertVip(lab, { addresses: ['10.200.0.1/25', '10.201.0.1/24', 'fd00:201::1/64'], routes: ['10.200.0.0/17', '10.201.0.0/16', 'fd00:201::/64'] });
    // Back to fewer: one family gone entirely.
    const v4only: VipInterfaceSpec = { name: VIP, addresses: ['10.201.0.1/24'], routes: ['10.201.0.0/16'] };
    await host.apply(v4only);
    await assertVip(lab, { addresses: ['10.201.0.1/24'], routes: ['10.201.0.0/16'] });
    assert.equal((await host.apply(v4only)).changed, false);
  });

  test('removing a subnet\'s first IPv4 address keeps the others the spec still wants', async (t) => {
    // The kernel's default (promote_secondaries=0): deleting a subnet's primary address deletes
    // its secondaries too.
    const lab = await freshLab(t);
    const host = hostIn(lab);
    await host.apply({ name: VIP, addresses: ['10.200.0.1/24', '10.200.0.2/24'], routes: [] });
    await host.apply({ name: VIP, addresses: ['10.200.0.2/24'], routes: [] });
    assert.deepEqual(await vipAddresses(lab), ['10.200.0.2/24']);
    // Two removals, the second already gone with the first.
    await host.apply({ name: VIP, addresses: ['10.200.0.2/24', '10.200.0.3/24', '10.200.0.4/24'], routes: [] });
    await host.apply({ name: VIP, addresses: ['10.200.0.4/24'], routes: [] });
    assert.deepEqual(await vipAddresses(lab), ['10.200.0.4/24']);
    assert.equal((await host.apply({ name: VIP, addresses: ['10.200.0.4/24'], routes: [] })).changed, false);
  });

  test('a vipgate route moved by hand to another device is moved back', async (t) => {
    const lab = await freshLab(t);
    const host = hostIn(lab);
    await host.apply(spec);
    await sh(lab, 'ip', 'route', 'del', '10.200.0.0/16', 'dev', VIP);
    await sh(lab, 'ip', 'route', 'add', '10.200.0.0/16', 'via', '10.180.1.1', 'dev', 'dc', 'proto', '86');
    await host.apply(spec);
    await assertVip(lab, specState);
    assert.ok(!(await routes(lab)).some((r) => r.includes('dev dc proto 86')));
  });
});

describe('host.apply repairs drift made by hand', () => {
  test('an address deleted, a route deleted and a stray address on the VIP interface', async (t) => {
    const lab = await freshLab(t);
    const host = hostIn(lab);
    await host.apply(spec);
    const before = await snapshot(lab);
    await sh(lab, 'ip', 'addr', 'del', '10.200.0.1/24', 'dev', VIP);
    await sh(lab, 'ip', '-6', 'route', 'del', 'fd00:200::/64', 'dev', VIP);
    // The VIP interface holds exactly the gateway addresses: one added to it by hand goes.
    await sh(lab, 'ip', 'addr', 'add', '10.200.9.9/32', 'dev', VIP);
    assert.notDeepEqual(await snapshot(lab), before);
    assert.equal((await host.apply(spec)).changed, true);
    await assertVip(lab, specState);
    assert.deepEqual(await snapshot(lab), before);
  });

  test('the link set down, and forwarding turned off', async (t) => {
    const lab = await freshLab(t);
    const host = hostIn(lab);
    await host.apply(spec);
    const before = await snapshot(lab);
    // Down takes the IPv6 addresses and every route through the link with it.
    await sh(lab, 'ip', 'link', 'set', 'dev', VIP, 'down');
    await sh(lab, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0', 'net.ipv6.conf.all.forwarding=0');
    await host.apply(spec);
    await assertVip(lab, specState);
    assert.deepEqual(await snapshot(lab), before);
  });

  test('the link deleted: made again, and the fallback is not announced twice', async (t) => {
    const lab = await freshLab(t);
    const logger = warningsLogger();
    const host = hostIn(lab, logger);
    await host.apply(spec);
    const warned = logger.warnings.length;
    await sh(lab, 'ip', 'link', 'del', 'dev', VIP);
    assert.equal((await links(lab))[VIP], undefined);
    await host.apply(spec);
    await assertVip(lab, specState);
    assert.equal(logger.warnings.length, warned);
  });
});

describe('what vipgate does not own', () => {
  test('addresses, routes and links added by hand elsewhere survive apply, a changed spec and cleanup', async (t) => {
    const lab = await freshLab(t);
    await sh(lab, 'ip', 'addr', 'add', '192.0.2.7/32', 'dev', 'dc');
    await sh(lab, 'ip', 'route', 'add', '10.202.0.0/16', 'via', '10.180.1.1');
    await sh(lab, 'ip', '-6', 'route', 'add', 'fd00:202::/64', 'via', 'fd00:180::1');
    // A route of another protocol (BIRD's, 12) to a prefix that later leaves the spec.
    await sh(lab, 'ip', 'route', 'add', '10.203.0.0/16', 'via', '10.180.1.1', 'proto', '12');
    await sh(lab, 'ip', 'link', 'add', 'other0', 'type', 'bridge');
    await sh(lab, 'ip', 'link', 'set', 'dev', 'other0', 'up');
    await sh(lab, 'ip', 'addr', 'add', '10.200.0.1/32', 'dev', 'other0');
    const mine = othersOf(await snapshot(lab));
    const host = hostIn(lab);
    await host.apply(spec);
    assert.deepEqual(othersOf(await snapshot(lab)), mine);
    await host.apply({ name: VIP, addresses: ['10.200.0.1/24'], routes: ['10.200.0.0/16'] });
    assert.deepEqual(othersOf(await snapshot(lab)), mine);
    await host.cleanup(spec);
    assert.deepEqual(othersOf(await snapshot(lab)), mine);
  });

  test('a link of that name that is not vipgate\'s (a veth) is refused, and neither apply nor cleanup touches it', async (t) => {
    const lab = await freshLab(t);
    await sh(lab, 'ip', 'link', 'add', VIP, 'type', 'veth', 'peer', 'name', 'vpeer');
    await sh(lab, 'ip', 'addr', 'add', '10.99.0.1/24', 'dev', VIP);
    const before = await snapshot(lab);
    const host = hostIn(lab);
    await assert.rejects(host.apply(spec), { code: HostErrorCode.linkNotOurs, message: /cilium_ext exists as veth/ });
    assert.deepEqual(await snapshot(lab), before);
    assert.deepEqual(await host.cleanup(spec), { changed: false, actions: [] });
    assert.deepEqual(await snapshot(lab), before);
  });

  test('an unmarked port-less bridge is adopted; a bridge with ports is refused and left as it was', async (t) => {
    const lab = await freshLab(t);
    await sh(lab, 'ip', 'link', 'add', VIP, 'type', 'bridge');
    await sh(lab, 'ip', 'addr', 'add', '10.99.0.1/24', 'dev', VIP);
    const host = hostIn(lab);
    assert.equal((await host.apply(spec)).kind, 'bridge');
    // Adopted: marked, up, and holding exactly the spec (the earlier address is not a gateway address).
    const link = (await links(lab))[VIP];
    assert.deepEqual(link, { kind: 'bridge', alias: 'vipgate', up: true, master: undefined });
    assert.deepEqual(await vipAddresses(lab), specState.addresses);
    assert.deepEqual(await ourRoutes(lab), ['10.200.0.0/16 cilium_ext', 'fd00:200::/64 cilium_ext']);

    const other = 'br1';
    await sh(lab, 'ip', 'link', 'add', other, 'type', 'bridge');
    await sh(lab, 'ip', 'link', 'add', 'br1p', 'type', 'veth', 'peer', 'name', 'br1q');
    await sh(lab, 'ip', 'link', 'set', 'dev', 'br1p', 'master', other);
    const before = await snapshot(lab);
    await assert.rejects(host.apply({ name: other, addresses: ['10.210.0.1/24'], routes: ['10.210.0.0/16'] }), {
      code: HostErrorCode.linkNotOurs,
      message: /bridge with ports \(br1p\)/,
    });
    assert.deepEqual(await snapshot(lab), before);
  });

  test('someone else\'s route on a spec prefix is a conflict: it stays, and vipgate adds none beside it', async (t) => {
    for (const [prefix, foreign] of [
      ['10.200.0.0/16', ['ip', 'route', 'add', '10.200.0.0/16', 'via', '10.180.1.1']],
      ['fd00:200::/64', ['ip', '-6', 'route', 'add', 'fd00:200::/64', 'via', 'fd00:180::1']],
    ] as const) {
      const lab = await freshLab(t);
      await sh(lab, ...foreign);
      const theirs = (await routes(lab)).filter((r) => r.startsWith(`${prefix} `));
      assert.equal(theirs.length, 1);
      await assert.rejects(hostIn(lab).apply(spec), (e: unknown) => {
        assert.equal((e as { code?: string }).code, HostErrorCode.routeConflict);
        assert.match((e as Error).message, new RegExp(`route ${prefix} is already in the routing table and not vipgate's`));
        return true;
      });
      assert.deepEqual((await routes(lab)).filter((r) => r.startsWith(`${prefix} `)), theirs);
      assert.ok(!(await ourRoutes(lab)).some((r) => r.startsWith(`${prefix} `)));
    }
  });

  test('without CAP_NET_ADMIN the refusal names the capability and nothing is made', async (t) => {
    const lab = await freshLab(t);
    const before = await snapshot(lab);
    // The kernel refuses for real: the commands run with CAP_NET_ADMIN dropped, as in a container without it.
    const inner = createCommandRunner({ netns: lab.ns('lb1') });
    const runner: CommandRunner = {
      run: (argv) =>
        inner.run(['setpriv', '--bounding-set=-net_admin', '--inh-caps=-net_admin', ...argv]).catch((error: unknown) => {
          // Report the failure as the command itself, as the DaemonSet's runner would.
          throw Object.assign(error as Error, { argv: (error as { argv: string[] }).argv.slice(3) });
        }),
    };
    await assert.rejects(createHost({ runner }).apply(spec), { code: HostErrorCode.commandFailed, message: /Operation not permitted; changing links, addresses and routes needs CAP_NET_ADMIN$/ });
    assert.deepEqual(await snapshot(lab), before);
  });
  test('with /proc/sys read-only (a container) the error says to set forwarding on the node; the rest is in place', async (t) => {
    const lab = await freshLab(t);
    // sysctl runs where /proc/sys is mounted read-only, as in a container; `ip` runs as usual.
    const inner = createCommandRunner({ netns: lab.ns('lb1') });
    const readOnly = ['unshare', '--mount', '--', 'sh', '-c', 'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"', 'sh'];
    const runner: CommandRunner = {
      run: (argv) =>
        argv[0] !== 'sysctl'
          ? inner.run(argv)
          : inner.run([...readOnly, ...argv]).catch((error: unknown) => {
              throw Object.assign(error as Error, { argv: (error as { argv: string[] }).argv.slice(readOnly.length) });
            }),
    };
    await assert.rejects(createHost({ runner }).apply(spec), { code: HostErrorCode.commandFailed, message: /; set it on the node instead \(\/etc\/sysctl\.d\/\)/ });
    assert.equal(await forwarding(lab), '0 0');
    assert.deepEqual(await vipAddresses(lab), specState.addresses);
    assert.deepEqual(await ourRoutes(lab), ['10.200.0.0/16 cilium_ext', 'fd00:200::/64 cilium_ext']);
  });
});

describe('host.cleanup', () => {
  test('removes the VIP interface, its addresses and vipgate\'s routes, and nothing else; forwarding stays', async (t) => {
    const lab = await freshLab(t);
    // A route someone else keeps.
    await sh(lab, 'ip', 'route', 'add', '10.202.0.0/16', 'via', '10.180.1.1');
    const before = await snapshot(lab);
    const host = hostIn(lab);
    await host.apply(spec);
    assert.equal((await host.cleanup(spec)).changed, true);
    assert.equal((await links(lab))[VIP], undefined);
    assert.deepEqual(await ourRoutes(lab), []);
    // Everything else is as before apply; the forwarding sysctls are documented to stay on.
    assert.deepEqual(await snapshot(lab), { ...before, forwarding: '1 1' });
    // Nothing left to clean.
    assert.deepEqual(await host.cleanup(spec), { changed: false, actions: [] });
    assert.deepEqual(await snapshot(lab), { ...before, forwarding: '1 1' });
  });

  test('an unmarked link of that name is left alone', async (t) => {
    const lab = await freshLab(t);
    await sh(lab, 'ip', 'link', 'add', VIP, 'type', await expectedKind(lab));
    await sh(lab, 'ip', 'addr', 'add', '10.200.0.1/24', 'dev', VIP);
    const before = await snapshot(lab);
    assert.deepEqual(await hostIn(lab).cleanup(spec), { changed: false, actions: [] });
    assert.deepEqual(await snapshot(lab), before);
  });

  test('a link carrying vipgate\'s mark that is not a dummy or bridge is refused, and cleanup leaves it too', async (t) => {
    const lab = await freshLab(t);
    // Deleting a veth would take its peer with it, wherever that is.
    await sh(lab, 'ip', 'link', 'add', VIP, 'type', 'veth', 'peer', 'name', 'vpeer');
    await sh(lab, 'ip', 'link', 'set', 'dev', VIP, 'alias', 'vipgate');
    const before = await snapshot(lab);
    const host = hostIn(lab);
    await assert.rejects(host.apply(spec), { code: HostErrorCode.linkNotOurs, message: /carries vipgate's alias but is veth/ });
    assert.deepEqual(await snapshot(lab), before);
    assert.deepEqual(await host.cleanup(spec), { changed: false, actions: [] });
    assert.deepEqual(await snapshot(lab), before);
  });
});
