import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PeerStatus } from '../bgp/index.ts';
import type { DrainStatus } from '../api/status.ts';
import type { Dataplane, FrontendCounters } from '../dataplane/dataplane.ts';
// Types only: reading the XDP engine's stats must not load the engine.
import type { XdpStats } from '../dataplane/xdp/index.ts';

/** The agent's Prometheus metrics, in a registry of its own (no global state). */
export interface AgentMetrics {
  readonly registry: Registry;
  readonly frontends: Gauge;
  readonly backends: Gauge;
  readonly serviceProblems: Gauge;
  readonly advertisedPrefixes: Gauge;
  readonly reconcileDuration: Histogram;
  readonly reconcileErrors: Counter<'effect'>;
  readonly driftRepairs: Counter;
  readonly configReloads: Counter<'result'>;
}

/** Settings changes applied and refused since the start. */
export interface ReloadCounts {
  readonly applied: number;
  readonly refused: number;
}

/** Frontend counters and the XDP engine's stats, read from the dataplane at scrape time. */
function registerDataplaneMetrics(registry: Registry, dataplane: () => Dataplane | undefined): void {
  const metric = { registers: [registry] };
  // Counters are read from the kernel at scrape time: the dataplane holds the truth.
  const frontendGauge = (name: string, help: string, pick: (c: FrontendCounters) => bigint): void => {
    new Gauge({
      name,
      help,
      labelNames: ['frontend'],
      ...metric,
      async collect() {
        const dp = dataplane();
        if (dp === undefined) return;
        this.reset();
        for (const [key, c] of await dp.counters()) this.set({ frontend: key }, Number(pick(c)));
      },
    });
  };
  frontendGauge('vipgate_frontend_packets', 'Packets received for a frontend (VIP:port/proto), original direction, from the dataplane counters', (c) => c.packets);
  // XDP only: where translated packets went, and the ICMP "too big" answers (read at scrape time).
  const xdpStats = (): XdpStats | undefined => {
    const dp = dataplane() as Partial<{ stats: () => XdpStats }> | undefined;
    return typeof dp?.stats === 'function' ? dp.stats() : undefined;
  };
  new Counter({
    name: 'vipgate_xdp_packets_total',
    help: 'XDP engine: VIP packets by what happened after translation (forwarded by XDP, handed to the kernel for its neighbour or FIB, dropped)',
    labelNames: ['path'],
    ...metric,
    collect() {
      const s = xdpStats();
      if (s === undefined) return;
      this.reset();
      this.inc({ path: 'forwarded' }, Number(s.forwarded));
      this.inc({ path: 'kernel_neighbour' }, Number(s.kernelNeighbour));
      this.inc({ path: 'kernel_fib' }, Number(s.kernelFib));
      this.inc({ path: 'dropped' }, Number(s.dropped));
    },
  });
  new Counter({
    name: 'vipgate_xdp_icmp_too_big_total',
    help: 'XDP engine: packets too big to encapsulate, answered with ICMP "too big" (sent) or dropped over the rate limit (limited)',
    labelNames: ['result'],
    ...metric,
    collect() {
      const s = xdpStats();
      if (s === undefined) return;
      this.reset();
      this.inc({ result: 'sent' }, Number(s.icmpTooBigSent));
      this.inc({ result: 'limited' }, Number(s.icmpTooBigLimited));
    },
  });
  frontendGauge('vipgate_frontend_bytes', 'Bytes received for a frontend (VIP:port/proto), original direction, from the dataplane counters', (c) => c.bytes);
}

/**
 * `reloads`: where settings changes are counted (read at scrape time); without it
 * `configReloads` is incremented by its user.
 */
export function createAgentMetrics(dataplane: () => Dataplane | undefined, reloads?: () => ReloadCounts): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vipgate_process_' });
  registerDataplaneMetrics(registry, dataplane);
  const metric = { registers: [registry] };
  return {
    registry,
    frontends: new Gauge({ name: 'vipgate_frontends', help: 'Frontends (VIP:port/proto) in the service table', ...metric }),
    backends: new Gauge({ name: 'vipgate_backends', help: 'Backends across all frontends, by state', labelNames: ['state'], ...metric }),
    serviceProblems: new Gauge({ name: 'vipgate_service_problems', help: 'Services with a problem (not served, or partly)', ...metric }),
    advertisedPrefixes: new Gauge({ name: 'vipgate_advertised_prefixes', help: 'VIP prefixes handed to the announcer', ...metric }),
    reconcileDuration: new Histogram({
      name: 'vipgate_reconcile_duration_seconds',
      help: 'Time of one reconcile pass (desired state, host, dataplane, announcer)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ...metric,
    }),
    reconcileErrors: new Counter({ name: 'vipgate_reconcile_errors_total', help: 'Failed effect applications', labelNames: ['effect'], ...metric }),
    driftRepairs: new Counter({ name: 'vipgate_drift_repairs_total', help: 'Passes that found the kernel changed behind the agent and repaired it', ...metric }),
    configReloads: reloadsCounter(registry, reloads),
  };
}

function reloadsCounter(registry: Registry, reloads: (() => ReloadCounts) | undefined): Counter<'result'> {
  return new Counter({
    name: 'vipgate_config_reloads_total',
    help: 'Config file reloads by result',
    labelNames: ['result'],
    registers: [registry],
    ...(reloads === undefined
      ? {}
      : {
          collect(this: Counter<'result'>) {
            // A result that never happened has no series, as with increments.
            const { applied, refused } = reloads();
            this.reset();
            if (applied > 0) this.inc({ result: 'applied' }, applied);
            if (refused > 0) this.inc({ result: 'refused' }, refused);
          },
        }),
  });
}

/**
 * BGP session metrics, read from the speaker at scrape time. `rejected`: connections our
 * listeners closed at once, by reason (e.g. `unconfigured-peer`).
 */
export function registerBgpMetrics(registry: Registry, peers: () => readonly PeerStatus[], rejected: () => ReadonlyMap<string, number> = () => new Map()): void {
  const metric = { registers: [registry], labelNames: ['peer'] as const };
  const gauge = (name: string, help: string, value: (p: PeerStatus) => number): void => {
    new Gauge({
      name,
      help,
      ...metric,
      collect() {
        this.reset();
        for (const p of peers()) this.set({ peer: p.address }, value(p));
      },
    });
  };
  gauge('vipgate_bgp_session_established', '1 while the BGP session with the peer is Established', (p) => (p.state === 'Established' ? 1 : 0));
  gauge('vipgate_bgp_session_uptime_seconds', 'Seconds since the session was Established (0 when down)', (p) => p.uptimeSeconds ?? 0);
  gauge('vipgate_bgp_prefixes_sent', 'Prefixes the peer has been told about now (Adj-RIB-Out)', (p) => p.prefixesSent);
  gauge('vipgate_bgp_prefixes_received', 'Prefixes the peer announced to us', (p) => p.prefixesReceived);
  gauge('vipgate_bgp_updates_sent', 'UPDATE messages sent to the peer since the agent started', (p) => p.updatesSent);
  gauge('vipgate_bgp_updates_received', 'UPDATE messages received from the peer since the agent started', (p) => p.updatesReceived);
  // Only peers with BFD configured have the series: a missing one is "no BFD", 0 is "BFD not Up".
  new Gauge({
    name: 'vipgate_bgp_bfd_up',
    help: '1 while the BFD session with the peer is Up, 0 otherwise; only peers with bfd configured',
    ...metric,
    collect() {
      this.reset();
      for (const p of peers()) if (p.bfdState !== undefined) this.set({ peer: p.address }, p.bfdState === 'Up' ? 1 : 0);
    },
  });
  // Counters the speaker keeps per peer, read at scrape time (reset, then set to the speaker's count).
  const counter = (name: string, help: string, value: (p: PeerStatus) => number): void => {
    new Counter({
      name,
      help,
      ...metric,
      collect() {
        this.reset();
        for (const p of peers()) this.inc({ peer: p.address }, value(p));
      },
    });
  };
  counter('vipgate_bgp_session_flaps_total', 'Times the BGP session with the peer left Established', (p) => p.flaps);
  counter('vipgate_bgp_updates_sent_total', 'UPDATE messages sent to the peer', (p) => p.updatesSent);
  counter('vipgate_bgp_updates_received_total', 'UPDATE messages received from the peer', (p) => p.updatesReceived);
  new Counter({
    name: 'vipgate_bgp_connections_rejected_total',
    help: 'Connections to our BGP listeners closed at once, by reason (unconfigured-peer: not from a configured peer address)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of rejected()) this.inc({ reason }, n);
    },
  });
}

/** The node's drain state (docs/design/013-drain.md), read at scrape time. */
export function registerDrainMetrics(registry: Registry, status: () => DrainStatus): void {
  new Gauge({
    name: 'vipgate_drain_state',
    help: '1 for the state the LB node is in: not-drained, draining (GRACEFUL_SHUTDOWN announced) or drained (routes withdrawn)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const now = status().state;
      for (const state of ['not-drained', 'draining', 'drained'] as const) this.set({ state }, state === now ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vipgate_drain_state_since_seconds',
    help: 'Unix time the LB node entered its drain state',
    registers: [registry],
    collect() {
      this.set(Date.parse(status().since) / 1000);
    },
  });
}
