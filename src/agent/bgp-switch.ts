// BGP on or off at run time: a settings change that adds the `bgp` section starts a speaker
// and switches the announcer to it; one that removes it closes the sessions and goes back to
// static routes; one that changes it reconfigures the speaker in place.
import type { Logger } from 'pino';
import type { BgpConfig } from '../config/index.ts';
import type { Pool } from '../model/index.ts';
import { staticRoutesAnnouncer } from './announcer.ts';
import type { DrainAnnouncement } from './bgp-announcer-policy.ts';
import { bgpAnnouncer, type BgpAnnouncer } from './bgp-announcer.ts';
import { switchableAnnouncer, type SwitchableAnnouncer } from './switchable-announcer.ts';

export interface BgpSwitchOptions {
  readonly log: Logger;
  /** The settings' `bgp` section at the start (undefined: static routes). */
  readonly initial: BgpConfig | undefined;
  /** Routers may still hold our routes from an earlier run (RFC 4724). */
  readonly restarted: boolean;
  /** That run's dataplane is still in the kernel (same boot): F bit (RFC 4724 §3). */
  readonly forwardingPreserved?: boolean;
  /** The VIP interface's routes: the aggregates a policy may announce. */
  readonly aggregates: () => readonly string[];
  /** Advertisements select VIPs by pool: the file's pools, or the cluster's VIPPools. */
  readonly pools: () => readonly Pool[];
}

export interface BgpSwitch {
  /** The announcer the agent talks to, whichever is behind it. */
  readonly announcer: SwitchableAnnouncer;
  /** The BGP announcer while the agent announces by BGP. */
  current(): BgpAnnouncer | undefined;
  /** The `bgp` section of new settings (undefined: absent). */
  apply(section: BgpConfig | undefined): void;
  /** How routes are announced while the node drains; kept for a speaker started later. */
  setDrain(mode: DrainAnnouncement | undefined): void;
}

export function bgpSwitch(options: BgpSwitchOptions): BgpSwitch {
  const { log } = options;
  let drain: DrainAnnouncement | undefined;
  const start = (section: BgpConfig, restarted: boolean): BgpAnnouncer => {
    const started = bgpAnnouncer(section, {
      log,
      restarted,
      ...(restarted && options.forwardingPreserved !== undefined ? { forwardingPreserved: options.forwardingPreserved } : {}),
      aggregates: options.aggregates,
      pools: options.pools,
    });
    started.setDrain(drain);
    return started;
  };
  let bgp = options.initial === undefined ? undefined : start(options.initial, options.restarted);
  const announcer = switchableAnnouncer(bgp ?? staticRoutesAnnouncer());
  const apply = (section: BgpConfig | undefined): void => {
    if (bgp !== undefined && section !== undefined) {
      bgp.reconfigure(section).catch((error: unknown) => log.error({ err: error }, 'applying the new bgp section failed'));
    } else if (bgp === undefined && section !== undefined) {
      log.info('a bgp section was added: announcing the VIPs by BGP');
      bgp = start(section, false);
      announcer.swap(bgp).catch((error: unknown) => log.error({ err: error }, 'switching to BGP failed'));
    } else if (bgp !== undefined && section === undefined) {
      // CEASE to every router: they withdraw our routes; clients then need the static route.
      log.warn('the bgp section was removed: sessions closed, routers withdraw the VIPs; use the route `vipgate routes` prints');
      bgp = undefined;
      announcer.swap(staticRoutesAnnouncer()).catch((error: unknown) => log.error({ err: error }, 'switching to static routes failed'));
    }
  };
  const setDrain = (mode: DrainAnnouncement | undefined): void => {
    drain = mode;
    bgp?.setDrain(mode);
  };
  return { announcer, current: () => bgp, apply, setDrain };
}
