// The walk-through lab shared by the demo and the integration tests: the demo topology, its
// backend pods, a standalone config for lb1, and the vipgate agent running inside lb1. The demo
// prints what happens; the tests assert it. Both drive the same code, so the demo can't drift
// from what is tested.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/project-root.ts';
import { Lab, type LabOptions, type LabProcess } from './lab.ts';
import { DEMO, demoTopology, type DemoTopologyOptions } from './topologies.ts';

export const VIPGATE_BIN = join(projectRoot(), 'bin', 'vipgate');

/** A standalone service as the demo's config writes it. */
export interface DemoService {
  readonly name: string;
  readonly yaml: string;
}

export interface DemoConfigOptions {
  /** Backends of nginx2; the demo removes one of them. */
  readonly nginx2Backends?: readonly string[];
  readonly resyncSeconds?: number;
  readonly extraServices?: string;
  /** Default lb1. */
  readonly nodeName?: string;
  /** A `bgp:` section (YAML, at column 0), appended as is. */
  readonly bgp?: string;
  /**
   * Serve with the XDP engine instead of nftables: the program on the node's `dc` port (generic
   * mode: veth in these labs), nat mode, replies SNATed to these addresses (the node's own).
   */
  readonly xdp?: {
    readonly snatAddresses: readonly string[];
    /** `dataplane.xdp.forwarding` (default nat); `ipip`/`gue` need backends that decapsulate (lab/encap-backends.ts). */
    readonly forwarding?: 'nat' | 'dsr-l2' | 'ipip' | 'gue';
    /** `dataplane.xdp.pinDir`; default the agent's (a bpffs it mounts, private to its process). */
    readonly pinDir?: string;
  };
}

function xdpLines(xdp: NonNullable<DemoConfigOptions['xdp']>): string {
  const extra = `${xdp.forwarding === undefined ? '' : `, forwarding: ${xdp.forwarding}`}${xdp.pinDir === undefined ? '' : `, pinDir: ${JSON.stringify(xdp.pinDir)}`}`;
  return `  engine: xdp\n  xdp: { interfaces: [dc], mode: generic, snatAddresses: [${xdp.snatAddresses.map((a) => JSON.stringify(a)).join(', ')}]${extra} }\n`;
}

/** The agent config for lb1: the original walk-through's pools, VIP interface and services. */
export function demoConfig(options: DemoConfigOptions = {}): string {
  const nginx2 = options.nginx2Backends ?? [DEMO.pods.pod1b.v4, DEMO.pods.pod2a.v4];
  const node = options.nodeName ?? 'lb1';
  return `# vipgate standalone config for the LB node ${node} (written by the demo)
apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
nodeName: ${node}
vipInterface:
  name: cilium_ext
  addresses: [10.200.0.1/24, fd00:200::1/64]
  routes: [${DEMO.vipCidr.v4}, ${DEMO.vipCidr.v6}]
dataplane:
${options.xdp === undefined ? '  engine: nftables\n' : xdpLines(options.xdp)}  snat: masquerade
  # The cluster nodes' network: in-cluster clients are not served external VIPs (CVE-2020-8554).
  denySources: [10.180.1.0/24, fd00:180:1::/64]
  resyncSeconds: ${options.resyncSeconds ?? 5}
pools:
  - name: default
    addresses: [${DEMO.vipCidr.v4}]
    allowExternalIPs: true
  - name: v6
    addresses: [${DEMO.vipCidr.v6}]
    autoAssign: true
services:
  # The seed's first service: ClusterIP with a user-named external IP.
  - name: nginx
    type: ClusterIP
    externalIPs: [10.200.0.5]
    ports: [{ name: http, port: 80, targetPort: 80 }]
    backends:
      - { address: ${DEMO.pods.pod1a.v4} }
  # The seed's second service: LoadBalancer; IPAM picks the address.
  - name: nginx2
    type: LoadBalancer
    ports: [{ name: http, port: 80 }]
    backends:
${nginx2.map((a) => `      - { address: ${a} }`).join('\n')}
  # Dual-stack: one VIP from each family's pool.
  - name: web
    type: LoadBalancer
    ipFamilyPolicy: RequireDualStack
    ipFamilies: [IPv4, IPv6]
    ports: [{ name: http, port: 8080, targetPort: 80 }]
    backends:
      - { address: ${DEMO.pods.pod1a.v4} }
      - { address: ${DEMO.pods.pod2a.v4} }
      - { address: ${DEMO.pods.pod1a.v6} }
      - { address: ${DEMO.pods.pod2a.v6} }
${options.extraServices ?? ''}${options.bgp ?? ''}`;
}

/** The vipgate agent of one LB node in a lab: its config file, log, state file and process. */
export interface LbAgent {
  readonly host: string;
  readonly configPath: string;
  readonly agentLog: string;
  readonly statePath: string;
  agent: LabProcess;
  /** True while the agent process runs. */
  readonly running: boolean;
  /** Runs `bin/vipgate …` inside the node (where the agent's API listens on 127.0.0.1). */
  vipgate(args: readonly string[]): Promise<string>;
  /** Replaces the config file the way an editor does (write a new file, rename over). */
  writeConfig(text: string): Promise<void>;
  /** Starts (or restarts) the agent and waits until its API answers. */
  startAgent(extraArgs?: readonly string[]): Promise<LabProcess>;
  /** SIGTERM, and waits up to 10 s for the exit. */
  stopAgent(): Promise<void>;
  /** Sends a signal to the agent process (SIGKILL: a crash; SIGSTOP/SIGCONT: a freeze). */
  signalAgent(signal: NodeJS.Signals): Promise<void>;
  /** Waits until `vipgate service list -o json` satisfies `check`, or throws after `timeoutMs`. */
  waitForServices(check: (view: ServicesJson) => boolean, timeoutMs?: number): Promise<ServicesJson>;
}

export interface WalkthroughLab extends LbAgent {
  readonly lab: Lab;
  down(): Promise<void>;
}

export interface ServicesJson {
  readonly services: readonly {
    readonly id: number;
    readonly service: string;
    readonly type: string;
    readonly address: string;
    readonly port: number;
    readonly protocol: string;
    readonly backends: readonly { address: string; port: number; state: string }[];
    readonly packets: string;
    readonly bytes: string;
  }[];
  readonly problems: readonly { service: string; code: string; message: string }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Control of the agent in `host`, its files named after the host in `dir`. Starts nothing. */
export async function lbAgent(lab: Lab, host: string, dir: string, config: string): Promise<LbAgent> {
  const configPath = join(dir, `${host}.yaml`);
  const agentLog = join(dir, `${host}-agent.log`);
  const statePath = join(dir, `${host}-assignments.json`);
  await writeFile(configPath, config);
  let agent: LabProcess | undefined;
  const isRunning = (): boolean => agent !== undefined && agent.child.exitCode === null && agent.child.signalCode === null;
  const self: LbAgent = {
    host,
    configPath,
    agentLog,
    statePath,
    get agent(): LabProcess {
      if (agent === undefined) throw new Error(`the agent in ${host} is not running`);
      return agent;
    },
    set agent(p: LabProcess) {
      agent = p;
    },
    get running(): boolean {
      return isRunning();
    },
    vipgate: (args) => lab.exec(host, [VIPGATE_BIN, ...args], { timeoutMs: 20_000 }),
    async writeConfig(text) {
      const temporary = `${configPath}.new`;
      await writeFile(temporary, text);
      await rename(temporary, configPath);
    },
    async startAgent(extraArgs = []) {
      // The agent logs to a file, so it can outlive the demo (--keep) without a broken pipe.
      const command = [VIPGATE_BIN, 'agent', '--config', configPath, '--state-file', statePath, ...extraArgs]
        .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
        .join(' ');
      const started = await lab.spawn(host, ['sh', '-c', `exec ${command} >>'${agentLog}' 2>&1`]);
      agent = started;
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await lab.exec(host, ['curl', '-sf', '-m', '1', 'http://127.0.0.1:9470/healthz']);
          return started;
        } catch (error) {
          if (started.child.exitCode !== null || Date.now() > deadline) {
            throw new Error(`the agent in ${host} did not become healthy; see ${agentLog}`, { cause: error });
          }
          await sleep(200);
        }
      }
    },
    async stopAgent() {
      if (agent === undefined || !isRunning()) return;
      const exited = new Promise((r) => agent?.child.once('exit', r));
      agent.child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      agent = undefined;
    },
    async signalAgent(signal) {
      if (agent === undefined || !isRunning()) throw new Error(`the agent in ${host} is not running`);
      const running = agent;
      if (signal !== 'SIGKILL') {
        running.child.kill(signal);
        return;
      }
      const exited = new Promise((r) => running.child.once('exit', r));
      running.child.kill('SIGKILL');
      await Promise.race([exited, sleep(5000)]);
      agent = undefined;
    },
    async waitForServices(check, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let last: ServicesJson | undefined;
      while (Date.now() < deadline) {
        try {
          last = JSON.parse(await self.vipgate(['service', 'list', '-o', 'json'])) as ServicesJson;
          if (check(last)) return last;
        } catch {
          // the agent may be restarting
        }
        await sleep(200);
      }
      throw new Error(`timed out waiting for the service table in ${host}; last seen: ${JSON.stringify(last)}`);
    },
  };
  return self;
}

/** Builds the lab, starts the pods and the agent. On failure, removes what it made. */
export async function startWalkthrough(options: LabOptions & { config?: string; topology?: DemoTopologyOptions } = {}): Promise<WalkthroughLab> {
  const lab = await Lab.up(demoTopology(options.topology), options);
  const dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-`));
  try {
    await lab.startBackends();
    const lb1 = await lbAgent(lab, 'lb1', dir, options.config ?? demoConfig());
    // Spread, not a copy: the getters must keep reading lb1's live process.
    const self: WalkthroughLab = Object.assign(Object.create(lb1) as LbAgent, {
      lab,
      async down() {
        await lab.down();
        await rm(dir, { recursive: true, force: true });
      },
    });
    await self.startAgent();
    return self;
  } catch (error) {
    await lab.down();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
