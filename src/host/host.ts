// host.apply: the VIP interface on the LB node. Reads the link, its addresses, vipgate's routes
// and the forwarding sysctls back from the kernel, and changes only the difference, so a second
// apply does nothing and a route deleted by hand comes back on the next pass.
import { CommandError, HostError, HostErrorCode } from './errors.ts';
import { parseAddresses, parseLinkNames, parseLinkShow, parseRoutes, type ObservedLink } from './observe.ts';
import {
  FORWARDING_SYSCTLS,
  normalizeSpec,
  planAddresses,
  planRoutes,
  VIPGATE_LINK_ALIAS,
  VIPGATE_ROUTE_PROTOCOL,
  type NormalizedSpec,
  type VipInterfaceSpec,
} from './plan.ts';
import type { CommandRunner } from './runner.ts';

export type VipLinkKind = 'dummy' | 'bridge';

export interface HostReport {
  /** What the VIP interface is: a dummy link, or a port-less bridge where the kernel has no dummy. */
  readonly kind: VipLinkKind;
  readonly changed: boolean;
  /** The commands that changed something, in order, e.g. "ip route add 10.200.0.0/16 dev cilium_ext proto 86". */
  readonly actions: readonly string[];
}

export interface CleanupReport {
  readonly changed: boolean;
  readonly actions: readonly string[];
}

/** pino's logger satisfies this; so does `console`. */
export interface HostLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface HostOptions {
  readonly runner: CommandRunner;
  readonly logger?: HostLogger;
}

export interface Host {
  /** Makes the VIP interface, its addresses, vipgate's routes and forwarding match `spec`. */
  apply(spec: VipInterfaceSpec): Promise<HostReport>;
  /** Deletes the link if it is vipgate's: marked, and a dummy or bridge (its addresses and routes go with it). Sysctls stay. */
  cleanup(spec: VipInterfaceSpec): Promise<CleanupReport>;
}

const silentLogger: HostLogger = { info: () => undefined, warn: () => undefined };

/** `ip link add … type dummy` on a kernel built without the dummy driver. */
export function isDummyUnsupported(error: unknown): boolean {
  return error instanceof CommandError && /Unknown device type|Operation not supported|not supported/i.test(error.stderr);
}

/**
 * A failed command's message, with what it means for the agent's privileges when the kernel
 * refused it: in a container (the DaemonSet) that is a missing capability or a read-only
 * /proc/sys, which the bare "Operation not permitted" does not say.
 */
function explained(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof CommandError)) return message;
  if (error.argv[0] === 'ip' && /Operation not permitted/i.test(error.stderr)) return `${message}; changing links, addresses and routes needs CAP_NET_ADMIN`;
  if (error.argv[0] === 'sysctl' && /read-only|permission denied/i.test(error.stderr)) {
    return `${message}; set it on the node instead (/etc/sysctl.d/): in a container /proc/sys is read-only`;
  }
  return message;
}

function isMissingDevice(error: unknown): boolean {
  return error instanceof CommandError && /does not exist|Cannot find device/i.test(error.stderr);
}

export function createHost(options: HostOptions): Host {
  const { runner } = options;
  const logger = options.logger ?? silentLogger;
  // Learned once per process: the kernel won't grow a dummy driver while we run.
  let dummyUnsupported = false;

  async function change(actions: string[], argv: readonly string[]): Promise<void> {
    try {
      await runner.run(argv);
    } catch (cause) {
      if (cause instanceof CommandError && argv.includes('route') && /File exists/i.test(cause.stderr)) {
        throw new HostError(
          HostErrorCode.routeConflict,
          `route ${argv[argv.indexOf('add') + 1] ?? '?'} is already in the routing table and not vipgate's (protocol ${VIPGATE_ROUTE_PROTOCOL}); remove it or drop the prefix from the VIP interface's routes`,
          { cause },
        );
      }
      throw new HostError(HostErrorCode.commandFailed, explained(cause), { cause });
    }
    actions.push(argv.join(' '));
  }

  async function readLink(name: string): Promise<ObservedLink | undefined> {
    try {
      return parseLinkShow(await runner.run(['ip', '-d', '-j', 'link', 'show', 'dev', name]));
    } catch (error) {
      if (isMissingDevice(error)) return undefined;
      throw error;
    }
  }

  async function createLink(name: string, actions: string[]): Promise<VipLinkKind> {
    if (!dummyUnsupported) {
      try {
        await runner.run(['ip', 'link', 'add', name, 'type', 'dummy']);
        actions.push(`ip link add ${name} type dummy`);
        return 'dummy';
      } catch (error) {
        if (!isDummyUnsupported(error)) throw new HostError(HostErrorCode.commandFailed, explained(error), { cause: error });
        dummyUnsupported = true;
        logger.warn(
          `this kernel has no "dummy" network device, so the VIP interface ${name} is made as a bridge with no ports instead; ` +
            'it holds the addresses and routes the same way and carries no traffic of its own',
        );
      }
    }
    await change(actions, ['ip', 'link', 'add', name, 'type', 'bridge']);
    return 'bridge';
  }

  /**
   * A link of that name that vipgate did not mark: adopt it only when it is what vipgate would
   * have made (a dummy, or a bridge without ports) — the case of an earlier set-up script, or of
   * a crash between `link add` and marking it. Anything else belongs to someone else.
   */
  async function checkForeign(link: ObservedLink): Promise<VipLinkKind> {
    if (link.kind === 'dummy') return 'dummy';
    if (link.kind === 'bridge') {
      const ports = parseLinkNames(await runner.run(['ip', '-j', 'link', 'show', 'master', link.name]));
      if (ports.length === 0) return 'bridge';
      throw new HostError(
        HostErrorCode.linkNotOurs,
        `link ${link.name} is a bridge with ports (${ports.join(', ')}) that vipgate did not create; vipgate leaves it alone. Choose another VIP interface name or remove that bridge`,
      );
    }
    throw new HostError(
      HostErrorCode.linkNotOurs,
      `link ${link.name} exists as ${link.kind ?? 'a plain device'} and vipgate did not create it; the VIP interface must be a dummy (or a port-less bridge). vipgate leaves it alone: choose another name or remove that link`,
    );
  }

  async function ensureLink(spec: NormalizedSpec, actions: string[]): Promise<VipLinkKind> {
    const link = await readLink(spec.name);
    let kind: VipLinkKind;
    if (link === undefined) {
      kind = await createLink(spec.name, actions);
    } else if (link.alias === VIPGATE_LINK_ALIAS && (link.kind === 'dummy' || link.kind === 'bridge')) {
      kind = link.kind;
    } else if (link.alias === VIPGATE_LINK_ALIAS) {
      throw new HostError(
        HostErrorCode.linkNotOurs,
        `link ${spec.name} carries vipgate's alias but is ${link.kind ?? 'a plain device'}, not a dummy or bridge; remove it by hand and vipgate will recreate it`,
      );
    } else {
      kind = await checkForeign(link);
      logger.info(`adopting existing ${kind} link ${spec.name} as the VIP interface (marking it with alias "${VIPGATE_LINK_ALIAS}")`);
    }
    if (link?.alias !== VIPGATE_LINK_ALIAS) await change(actions, ['ip', 'link', 'set', 'dev', spec.name, 'alias', VIPGATE_LINK_ALIAS]);
    if (link?.up !== true) await change(actions, ['ip', 'link', 'set', 'dev', spec.name, 'up']);
    return kind;
  }

  async function readAddresses(name: string): Promise<string[]> {
    return parseAddresses(await runner.run(['ip', '-j', 'addr', 'show', 'dev', name]));
  }

  /**
   * Removes one address at a time, reading the link again after each: deleting an IPv4 subnet's
   * primary address also deletes that subnet's secondaries (the kernel's default,
   * promote_secondaries=0), so a stale plan would delete an address already gone (and fail) or
   * leave a wanted secondary missing. Then adds what is missing.
   */
  async function ensureAddresses(spec: NormalizedSpec, actions: string[]): Promise<void> {
    let observed = await readAddresses(spec.name);
    for (let left = observed.length; left > 0; left--) {
      const removal = planAddresses(spec.name, spec.addresses, observed).find((argv) => argv[2] === 'del');
      if (removal === undefined) break;
      await change(actions, removal);
      observed = await readAddresses(spec.name);
    }
    for (const argv of planAddresses(spec.name, spec.addresses, observed)) await change(actions, argv);
  }

  async function ensureRoutes(spec: NormalizedSpec, actions: string[]): Promise<void> {
    const proto = String(VIPGATE_ROUTE_PROTOCOL);
    const v4 = parseRoutes(await runner.run(['ip', '-j', '-4', 'route', 'show', 'table', 'main', 'proto', proto]), 4);
    const v6 = parseRoutes(await runner.run(['ip', '-j', '-6', 'route', 'show', 'table', 'main', 'proto', proto]), 6);
    for (const argv of planRoutes(spec.name, spec.routes, [...v4, ...v6])) await change(actions, argv);
  }

  async function ensureForwarding(actions: string[]): Promise<void> {
    const values = (await runner.run(['sysctl', '-n', ...FORWARDING_SYSCTLS])).trim().split('\n');
    for (const [index, key] of FORWARDING_SYSCTLS.entries()) {
      if (values[index]?.trim() !== '1') await change(actions, ['sysctl', '-w', `${key}=1`]);
    }
  }

  return {
    async apply(spec) {
      const normalized = normalizeSpec(spec);
      const actions: string[] = [];
      const kind = await ensureLink(normalized, actions);
      await ensureAddresses(normalized, actions);
      await ensureRoutes(normalized, actions);
      await ensureForwarding(actions);
      return { kind, changed: actions.length > 0, actions };
    },

    async cleanup(spec) {
      const normalized = normalizeSpec(spec);
      const actions: string[] = [];
      const link = await readLink(normalized.name);
      if (link === undefined) return { changed: false, actions };
      if (link.alias !== VIPGATE_LINK_ALIAS) {
        logger.info(`link ${normalized.name} is not vipgate's (no alias "${VIPGATE_LINK_ALIAS}"); cleanup leaves it alone`);
        return { changed: false, actions };
      }
      // The mark alone does not make a link vipgate's: apply refuses a marked veth or other kind,
      // and deleting one would take its peer (or the device itself) from whoever made it.
      if (link.kind !== 'dummy' && link.kind !== 'bridge') {
        logger.warn(`link ${normalized.name} carries vipgate's alias but is ${link.kind ?? 'a plain device'}, not a dummy or bridge vipgate made; cleanup leaves it alone`);
        return { changed: false, actions };
      }
      // Deleting the link takes its addresses and every route through it, ours included.
      await change(actions, ['ip', 'link', 'del', 'dev', normalized.name]);
      return { changed: true, actions };
    },
  };
}
