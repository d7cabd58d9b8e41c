// One L2 takeover as the client sees it: a request stream to a VIP, a failure of its owner at a
// known moment, then how long until every request went through the survivor, how many failed, and
// when the client's neighbour entry for the VIP started naming the survivor's MAC (from
// `ip -ts monitor neigh` in the client: ip's own time stamps, so neither polling nor a busy event
// loop here moves the moment). The demo's `--l2`
// step and the L2 failover benchmark both measure with this.
import type { Lab } from './lab.ts';
import { failoverGap, type FailoverGap, type FlowSample } from './probe.ts';
import { L2_LAB, l2SwitchPort, type L2Node } from './scenario-l2.ts';

export interface TakeoverOptions {
  readonly vip: string;
  /** The node expected to carry the VIP after the failure. */
  readonly survivor: L2Node;
  /** The survivor's MAC on "lan". */
  readonly survivorMac: string;
  /** Causes the failure; the clock starts just before it is called, unless `failureSeen` says when it happened. */
  readonly fail: () => Promise<void>;
  /** A monitor whose first line matching `pattern` after `fail` is called marks the failure (e.g. the port going down). */
  readonly failureSeen?: LineWatch;
  /** Requests before the failure (ms). Default 500. */
  readonly leadMs?: number;
  /** Requests after the failure (ms). Default 2500. */
  readonly windowMs?: number;
  /** Parallel request workers, each on a new connection per request. Default 2. */
  readonly concurrency?: number;
}

export interface Takeover {
  /** ms from the failure to the first request from which on every request went through the survivor. */
  readonly gap: FailoverGap;
  /** ms from the failure to the first request answered through the survivor (service back for new requests); undefined if none was. */
  readonly firstViaSurvivorMs: number | undefined;
  /** Requests lost to the failure: those still running at the failure or started after it that got no good answer (timeouts, resets). */
  readonly failed: number;
  /** Requests still running at the failure or started after it. */
  readonly requests: number;
  /** The lost requests: when each started (ms from the failure; negative if before), how long it ran, why it failed. */
  readonly failures: readonly { readonly atMs: number; readonly ms: number; readonly error: string }[];
  /** Requests started after the failure that were answered through the old owner. */
  readonly viaOldOwner: number;
  /** Requests finished before the failure, and those of them that failed: the background failure rate. */
  readonly requestsBefore: number;
  readonly failedBefore: number;
  /** ms from the failure to the client's neighbour entry naming the survivor's MAC; undefined if not within the window. */
  readonly neighbourMs: number | undefined;
}

/** A monitor command in a lab host (`ip monitor …`) and the line that marks an event. */
export interface LineWatch {
  readonly host: string;
  readonly argv: readonly string[];
  readonly pattern: RegExp;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An `ip monitor link` line of `port` without the UP flag: the port was set down. */
export function linkDownPattern(port: string): RegExp {
  return new RegExp(`^\\d+: ${port}@\\S+: <(?![^>]*\\bUP\\b)`);
}

/** Pulling `node`'s cable: its switch port down; the port's own link event marks the moment. */
export function cablePull(lab: Lab, node: L2Node): { fail: () => Promise<void>; restore: () => Promise<void>; failureSeen: LineWatch } {
  const port = l2SwitchPort(node);
  return {
    fail: async () => {
      await lab.exec('switch', ['ip', 'link', 'set', port, 'down']);
    },
    restore: async () => {
      await lab.exec('switch', ['ip', 'link', 'set', port, 'up']);
    },
    failureSeen: { host: 'switch', argv: ['ip', '-ts', 'monitor', 'link'], pattern: linkDownPattern(port) },
  };
}

/** `ip -ts monitor`'s stamp: when ip read the event (local time, µs), not when we read its line. */
const STAMPED = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\d*\] (.*)$/;

/** One line of `ip [-ts] monitor`: its time (ip's stamp if it has one, else `arrivedMs`) and its text without the stamp. */
export function monitorLine(text: string, arrivedMs: number): { at: number; line: string } {
  const stamped = STAMPED.exec(text);
  // Without an offset, Date.parse reads the stamp as local time, as ip wrote it.
  return stamped === null ? { at: arrivedMs, line: text } : { at: Date.parse(stamped[1]!), line: stamped[2]! };
}

/** A monitor's output lines, each with its time (epoch ms): ip's own stamp when it printed one, else arrival. */
async function watchLines(lab: Lab, host: string, argv: readonly string[]): Promise<{ lines: { at: number; line: string }[]; stop(): void }> {
  const monitor = await lab.spawn(host, argv);
  const lines: { at: number; line: string }[] = [];
  let partial = '';
  monitor.child.stdout?.on('data', (chunk: string | Buffer) => {
    const arrived = Date.now();
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push(monitorLine(text, arrived));
  });
  return { lines, stop: () => monitor.child.kill('SIGTERM') };
}

/** Measures one takeover of `vip` from its owner by `survivor` while the client sends requests. */
export async function measureTakeover(lab: Lab, options: TakeoverOptions): Promise<Takeover> {
  const { vip, survivor } = options;
  const v6 = vip.includes(':');
  const url = v6 ? `http://[${vip}]/` : `http://${vip}/`;
  const survivorAddress = v6 ? L2_LAB[survivor].v6 : L2_LAB[survivor].v4;
  const leadMs = options.leadMs ?? 500;
  const neighbours = await watchLines(lab, 'client', ['ip', '-ts', 'monitor', 'neigh']);
  const failure = options.failureSeen === undefined ? undefined : await watchLines(lab, options.failureSeen.host, options.failureSeen.argv);
  let samples: FlowSample[];
  let cutAt: number;
  try {
    const probe = lab.flowProbe('client', url, { durationMs: leadMs + (options.windowMs ?? 2500), concurrency: options.concurrency ?? 2, timeoutMs: 300 });
    await sleep(leadMs);
    cutAt = Date.now();
    await options.fail();
    if (failure !== undefined) {
      const since = cutAt;
      const marker = (): { at: number } | undefined => failure.lines.find((l) => l.at >= since && options.failureSeen!.pattern.test(l.line));
      // The monitor's line may arrive just after the command returns.
      for (let i = 0; i < 100 && marker() === undefined; i++) await sleep(10);
      cutAt = marker()?.at ?? cutAt;
    }
    samples = await probe;
  } finally {
    neighbours.stop();
    failure?.stop();
  }
  const entry = new RegExp(`^${vip.replaceAll('.', '\\.')} dev lan lladdr ${options.survivorMac}\\b`, 'i');
  const moved = neighbours.lines.find((l) => l.at >= cutAt && entry.test(l.line));
  const after = samples.filter((s) => s.t >= cutAt);
  const firstViaSurvivor = after.find((s) => s.ok && s.via === survivorAddress);
  const before = samples.filter((s) => s.t + s.ms < cutAt);
  const touched = samples.filter((s) => s.t + s.ms >= cutAt);
  const lost = touched.filter((s) => !s.ok);
  return {
    firstViaSurvivorMs: firstViaSurvivor === undefined ? undefined : firstViaSurvivor.t - cutAt,
    gap: failoverGap(samples, cutAt, (s) => s.ok && s.via === survivorAddress),
    failed: lost.length,
    requests: touched.length,
    failures: lost.map((s) => ({ atMs: s.t - cutAt, ms: s.ms, error: s.error ?? `answered, not 200 (via ${String(s.via)})` })),
    viaOldOwner: after.filter((s) => s.ok && s.via !== survivorAddress).length,
    requestsBefore: before.length,
    failedBefore: before.filter((s) => !s.ok).length,
    neighbourMs: moved === undefined ? undefined : moved.at - cutAt,
  };
}
