// `--cleanup` with a `bgp` section: routers may still hold this node's routes as stale (the agent
// stopped for a restart, RFC 4724), and would send traffic here until their restart timer ends.
// A short session with each router tells them to drop them now.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { BgpConfig } from '../config/index.ts';
import { bgpAnnouncer } from './bgp-announcer.ts';

/** How long cleanup waits for the sessions before giving up on routers that do not answer. */
const WITHDRAW_WAIT_MS = 10_000;

/**
 * Opens a session to every configured router announcing nothing: the OPEN says "restarted, no
 * forwarding state kept" (R=1, F=0), which makes a router drop our stale routes at once
 * (RFC 4724 §4.2), and End-of-RIB confirms there are none. Then the sessions close for good
 * (Cease, or Hard Reset where RFC 8538 was negotiated). Routers not reached in time are logged.
 */
export async function withdrawFromRouters(bgp: BgpConfig, log: Logger, waitMs = WITHDRAW_WAIT_MS): Promise<void> {
  const announcer = bgpAnnouncer(bgp, { log, restarted: true, forwardingPreserved: false, aggregates: () => [] });
  await announcer.setAdvertisements([]);
  const deadline = Date.now() + waitMs;
  const up = (): boolean => announcer.peers().every((p) => p.state === 'Established');
  while (!up() && Date.now() < deadline) await sleep(100);
  const missed = announcer.peers().filter((p) => p.state !== 'Established');
  for (const p of missed) log.warn({ peer: p.address, lastError: p.lastError }, `router ${p.address} not reached: it drops this node's routes only when its graceful restart timer ends`);
  await announcer.stop('remove');
  log.info({ routers: announcer.peers().length - missed.length }, 'routers told to withdraw this node\'s routes');
}
