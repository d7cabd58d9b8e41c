// BIRD 2 as the datacenter router of a lab: the config written from the topology (pure), and
// the daemon run as a tracked lab process, so `lab.down()` stops it with everything else.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatIp, parseIp } from '../src/net/index.ts';
import { LabError, LabErrorCode } from './errors.ts';
import type { Lab, LabProcess } from './lab.ts';
import { runCommand } from './run.ts';
import { DEMO } from './topologies.ts';

export interface BirdNeighbor {
  /** Protocol name in BIRD (`birdc show protocols`), e.g. "lb1v4". */
  readonly name: string;
  readonly address: string;
  readonly asn: number;
  /** TCP MD5 key (RFC 2385), as the LB node's `bgp.peers[].password`. */
  readonly password?: string;
}

export interface RouterBirdOptions {
  readonly routerId: string;
  readonly localAsn: number;
  readonly neighbors: readonly BirdNeighbor[];
  /** Hold time BIRD offers; the session uses the smaller of both sides' (RFC 4271 §4.2). */
  readonly holdTimeSeconds?: number;
  /**
   * Run BFD (RFC 5880/5881) with every neighbor at these timers (`protocol bfd` plus `bfd on`):
   * a neighbor whose BFD goes silent for `multiplier × interval` loses its session and routes.
   */
  readonly bfd?: { readonly minRxMs: number; readonly minTxMs: number; readonly multiplier: number };
  /**
   * Honour GRACEFUL_SHUTDOWN (RFC 8326 §4): a route carrying 65535:0 gets LOCAL_PREF 0, so a
   * draining LB node's routes lose to the others'. BIRD does not do it by itself.
   */
  readonly gracefulShutdown?: boolean;
}

const NAME = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * A router config: every neighbor's routes imported, none exported (the router only learns),
 * BGP routes installed in the kernel with `merge paths`, so the same VIP from two LB nodes
 * becomes one route with two next hops (ECMP). `learn off`: the kernel's own routes are not
 * BIRD's business.
 */
export function routerBirdConfig(options: RouterBirdOptions): string {
  const hold = options.holdTimeSeconds ?? 9;
  const lines = [
    `# BIRD 2 as the datacenter router (written by vipgate's lab)`,
    `router id ${formatIp(parseIp(options.routerId))};`,
    'log stderr all;',
    'protocol device { scan time 10; }',
    'protocol kernel k4 { ipv4 { import none; export where source = RTS_BGP; }; learn off; merge paths yes limit 8; }',
    'protocol kernel k6 { ipv6 { import none; export where source = RTS_BGP; }; learn off; merge paths yes limit 8; }',
    // error wait: BIRD waits 60 s by default before retrying a session that failed (hold timer
    // expired); a lab node coming back should be picked up within a second or two.
    `template bgp lbnode { local as ${options.localAsn}; hold time ${hold}; keepalive time ${Math.max(1, Math.floor(hold / 3))}; connect retry time 1;
      error wait time 1, 5;${options.bfd === undefined ? '' : ' bfd on;'} }`,
  ];
  const bfd = options.bfd;
  if (bfd !== undefined) {
    for (const [name, v] of [['minRxMs', bfd.minRxMs], ['minTxMs', bfd.minTxMs], ['multiplier', bfd.multiplier]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new LabError(LabErrorCode.badTopology, `BIRD bfd.${name} ${v} must be a positive integer`);
    }
    lines.push(`protocol bfd { interface "*" { min rx interval ${bfd.minRxMs} ms; min tx interval ${bfd.minTxMs} ms; multiplier ${bfd.multiplier}; }; }`);
  }
  const names = new Set<string>();
  for (const n of options.neighbors) {
    if (!NAME.test(n.name) || names.has(n.name)) throw new LabError(LabErrorCode.badTopology, `BIRD neighbor name "${n.name}" must be unique, lowercase letters, digits or _`);
    names.add(n.name);
    const address = parseIp(n.address);
    const family = address.family === 4 ? 'ipv4' : 'ipv6';
    const password = n.password === undefined ? '' : ` password "${n.password.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}";`;
    const imports = options.gracefulShutdown === true ? 'import filter { if (65535, 0) ~ bgp_community then bgp_local_pref = 0; accept; };' : 'import all;';
    lines.push(`protocol bgp ${n.name} from lbnode { neighbor ${formatIp(address)} as ${n.asn};${password} ${family} { ${imports} export none; }; }`);
  }
  return `${lines.join('\n')}\n`;
}

/** AS numbers of the BGP walk-through: the router's, and the one both LB nodes share. */
export const DEMO_ASN = { router: 65001, lbNodes: 65002 } as const;

/**
 * The demo router's neighbors: each LB node over IPv4 (IPv4 VIPs) and over IPv6 (IPv6 VIPs,
 * MP-BGP), so each family's next hop is the node's own address of that family.
 */
export function demoBirdNeighbors(options: { lbNodes: 1 | 2; lb1Password?: string }): BirdNeighbor[] {
  const nodes = [['lb1', DEMO.lbNode], ['lb2', DEMO.lbNode2]] as const;
  return nodes.slice(0, options.lbNodes).flatMap(([name, a]) => {
    const password = name === 'lb1' && options.lb1Password !== undefined ? { password: options.lb1Password } : {};
    return [
      { name: `${name}v4`, address: a.v4, asn: DEMO_ASN.lbNodes, ...password },
      { name: `${name}v6`, address: a.v6, asn: DEMO_ASN.lbNodes, ...password },
    ];
  });
}

export interface Bird {
  readonly process: LabProcess;
  readonly controlSocket: string;
  readonly configPath: string;
  /** `birdc -s <socket> …`; the answer's text, also for answers birdc exits 1 on ("Network not found"). */
  birdc(args: readonly string[]): Promise<string>;
  /** Stops this BIRD (SIGTERM, then SIGKILL after 3 s) and waits for it. */
  stop(): Promise<void>;
}

/** Starts BIRD in `host` with `config`, files in `dir`, and waits until it answers on its socket. */
export async function startBird(lab: Lab, host: string, config: string, dir: string, name = 'bird'): Promise<Bird> {
  const configPath = join(dir, `${name}.conf`);
  const controlSocket = join(dir, `${name}.ctl`);
  await writeFile(configPath, config);
  const proc = await lab.spawn(host, ['bird', '-f', '-c', configPath, '-s', controlSocket, '-P', join(dir, `${name}.pid`)]);
  const birdc = async (args: readonly string[]): Promise<string> => {
    // birdc talks to the control socket: it needs no namespace.
    const r = await runCommand(['birdc', '-s', controlSocket, ...args], { timeoutMs: 10_000 });
    if (r.exitCode === 0 || r.stdout.startsWith('BIRD')) return r.stdout;
    throw new LabError(LabErrorCode.commandFailed, `birdc ${args.join(' ')}: exit ${r.exitCode ?? 'none'}: ${r.stderr.trim()}`);
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new LabError(LabErrorCode.notReady, `bird in ${host} exited with ${proc.child.exitCode}; config ${configPath}`);
    const up = await birdc(['show', 'status']).then((t) => t.includes('Daemon is up'), () => false);
    if (up) break;
    if (Date.now() > deadline) throw new LabError(LabErrorCode.notReady, `bird in ${host} did not answer on ${controlSocket} within 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    process: proc,
    controlSocket,
    configPath,
    birdc,
    async stop() {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      const exited = new Promise((r) => proc.child.once('exit', r));
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Protocol name → state ("Established", "Active"…) from `birdc show protocols`. */
export function parseBirdProtocols(text: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of text.split('\n')) {
    // name  proto  table  state  since  info — BGP's info column holds the session state.
    const m = /^(\S+)\s+BGP\s+\S+\s+\S+\s+\S+(?:\s+\S+)?\s+(Established|Idle|Connect|Active|OpenSent|OpenConfirm|Passive)\b/.exec(line);
    if (m !== null) states.set(m[1]!, m[2]!);
  }
  return states;
}

/**
 * `birdc show route` → prefix → BGP next hops. BIRD prints a prefix once and further routes for
 * it on continuation lines; each route's "via" line follows it.
 */
export function parseBirdRoutes(text: string): Map<string, string[]> {
  const routes = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const prefix = /^(\S+\/\d+)\s+\S+\s+\[/.exec(line);
    if (prefix !== null) current = prefix[1]!;
    const via = /^\s+via (\S+) on /.exec(line);
    if (via !== null && current !== undefined) routes.set(current, [...(routes.get(current) ?? []), via[1]!]);
  }
  return routes;
}
