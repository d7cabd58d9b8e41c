// L2 mode on or off at run time, beside BGP or static routes: a settings change that adds the `l2`
// section starts answering ARP/NDP, one that removes it stops (peers take the VIPs at once), one
// that changes it reconfigures in place. The agent talks to one announcer that hands every pass's
// VIPs to both the routing announcer and this one.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { L2Config } from '../config/index.ts';
import type { Pool } from '../model/index.ts';
import { canonicalIp } from '../net/index.ts';
import type { Announcer, StopKind } from './announcer.ts';
import type { L2Event } from './l2-events.ts';
import { l2Announcer, type L2Announcer, type L2Status } from './l2-announcer.ts';

export interface L2SwitchOptions {
  readonly log: Logger;
  readonly nodeName: string;
  readonly initial: L2Config | undefined;
  readonly pools: () => readonly Pool[];
  readonly onEvent?: (event: L2Event) => void;
}

export interface L2Switch extends Announcer {
  apply(section: L2Config | undefined): void;
  current(): L2Announcer | undefined;
  status(): L2Status | undefined;
  setDataplaneHealthy(healthy: boolean): void;
  setDraining(draining: boolean): void;
}

const run = promisify(execFile);

/**
 * The peer using `mac` on `ifname`, from the kernel's neighbour table: BFD traffic to each peer
 * keeps its entry there. Read only when a conflict needs settling (rare), so a spawn is fine.
 */
export function neighbourPeerLookup(peers: () => L2Config['peers']): (ifname: string, mac: string) => Promise<string | undefined> {
  return async (ifname, mac) => {
    try {
      const { stdout } = await run('ip', ['-j', 'neigh', 'show', 'dev', ifname]);
      const entries = JSON.parse(stdout || '[]') as { dst: string; lladdr?: string }[];
      const addresses = new Set(entries.filter((e) => e.lladdr?.toLowerCase() === mac.toLowerCase()).map((e) => canonicalIp(e.dst)));
      return peers().find((p) => p.addresses.some((a) => addresses.has(a)))?.name;
    } catch {
      return undefined;
    }
  };
}

export function l2Switch(options: L2SwitchOptions): L2Switch {
  const { log } = options;
  let section = options.initial;
  let healthy = true;
  let draining = false;
  let last: readonly string[] | undefined;
  const start = (s: L2Config): L2Announcer => {
    const started = l2Announcer(s, { log: log.child({ l2: true }), nodeName: options.nodeName, pools: options.pools, ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }), peerOfMac: neighbourPeerLookup(() => section?.peers ?? []) });
    started.setDataplaneHealthy(healthy);
    started.setDraining(draining);
    if (last !== undefined) void started.setAdvertisements(last);
    return started;
  };
  let l2 = section === undefined ? undefined : start(section);
  return {
    // Empty while L2 mode is off, so the agent's announcer kind stays "bgp" or "static".
    get kind() {
      return l2 === undefined ? '' : 'l2';
    },
    current: () => l2,
    status: () => l2?.status(),
    apply(next) {
      section = next;
      if (l2 !== undefined && next !== undefined) l2.reconfigure(next);
      else if (l2 === undefined && next !== undefined) {
        log.info('an l2 section was added: answering ARP/NDP for the VIPs this node owns');
        l2 = start(next);
      } else if (l2 !== undefined && next === undefined) {
        log.warn('the l2 section was removed: this node no longer answers ARP/NDP for VIPs');
        const old = l2;
        l2 = undefined;
        old.stop('remove').catch((error: unknown) => log.error({ err: error }, 'stopping L2 mode failed'));
      }
    },
    setAdvertisements(prefixes) {
      last = prefixes;
      return l2?.setAdvertisements(prefixes) ?? Promise.resolve();
    },
    setDataplaneHealthy(next) {
      healthy = next;
      l2?.setDataplaneHealthy(next);
    },
    setDraining(next) {
      draining = next;
      l2?.setDraining(next);
    },
    stop: (kind?: StopKind) => l2?.stop(kind) ?? Promise.resolve(),
  };
}

/** One announcer handing every pass to several (routing and L2), so each works out its own share. */
export function fanOutAnnouncer(first: Announcer, ...more: Announcer[]): Announcer {
  const all = [first, ...more];
  return {
    get kind() {
      return all.map((a) => a.kind).filter((k) => k !== '').join('+');
    },
    async setAdvertisements(prefixes) {
      const results = await Promise.allSettled(all.map((a) => a.setAdvertisements(prefixes)));
      const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failures.length > 0) throw failures[0]!.reason;
    },
    async stop(kind) {
      await Promise.all(all.map((a) => a.stop(kind)));
    },
  };
}
