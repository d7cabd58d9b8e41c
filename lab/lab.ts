// Lab: builds a Topology as network namespaces `<prefix>-<host>`, runs commands and processes
// in them, and removes everything it made. Nothing is ever created in the root namespace: veths
// are created directly inside their namespaces and bridges live in a member's namespace.
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/project-root.ts';
import { LabError, LabErrorCode } from './errors.ts';
import { curlArgv, parseCurl, parseFlowSamples, parseRequestLoop, requestLoopArgv, type CurlResult, type FlowSample, type RequestLoopResult } from './probe.ts';
import { runCommand, type RunOptions } from './run.ts';
import { DEFAULT_STATE_DIR, listStatePrefixes, processStartTime, readState, writeState, type LabState, type TrackedProcess } from './state.ts';
import { planTopology, PREFIX, type LabPlan, type Topology } from './topology.ts';
import { teardown, type DownReport } from './teardown.ts';

export type { DownReport } from './teardown.ts';

export interface LabOptions {
  /** Namespace prefix; default "vg" + 4 random hex digits. */
  readonly prefix?: string;
  /** Where state files go; default /run/vipgate/labs. */
  readonly stateDir?: string;
}

export interface ExecOptions extends RunOptions {
  /** Default 10 s; the command is killed after it. */
  readonly timeoutMs?: number;
}

export interface LabProcess {
  readonly pid: number;
  readonly host: string;
  readonly argv: readonly string[];
  readonly child: ChildProcess;
  /** Resolves when a stdout line matches, rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
}

export interface Backend {
  readonly name: string;
  readonly host: string;
  readonly addresses: readonly string[];
  readonly port: number;
  readonly process: LabProcess;
}

export interface LabStatus {
  readonly prefix: string;
  readonly createdAt: string;
  /** Namespaces of the lab that exist now. */
  readonly namespaces: readonly string[];
  /** False when the process that built the lab is gone: a leftover, safe to remove. */
  readonly ownerAlive: boolean;
  readonly processesAlive: number;
}

const BACKEND_SERVER = join(projectRoot(), 'lab', 'backend-server.mjs');
const FLOW_PROBE = join(projectRoot(), 'lab', 'flow-probe.mjs');

const UDP_PROBE = `
const dgram = require('node:dgram');
const [address, port, timeoutMs] = process.argv.slice(1);
const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
setTimeout(() => process.exit(1), Number(timeoutMs)).unref();
s.on('message', (m) => { process.stdout.write(m); process.exit(0); });
s.send('probe', Number(port), address);
setTimeout(() => {}, Number(timeoutMs));
`;

function randomPrefix(): string {
  return `vg${randomBytes(2).toString('hex')}`;
}

export class Lab {
  private state: LabState;
  private readonly children = new Set<ChildProcess>();
  private closed = false;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly topology: Topology,
    readonly plan: LabPlan,
    private readonly stateDir: string,
    owner: LabState['owner'],
  ) {
    this.state = { prefix: plan.prefix, createdAt: new Date().toISOString(), owner, namespaces: plan.namespaces, processes: [] };
  }

  get prefix(): string {
    return this.plan.prefix;
  }

  /** Builds the topology. On any failure, what was made so far is removed before the error is thrown. */
  static async up(topology: Topology, options: LabOptions = {}): Promise<Lab> {
    const prefix = options.prefix ?? randomPrefix();
    const plan = planTopology(topology, prefix);
    const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
    const taken = plan.namespaces.filter((ns) => existsSync(`/run/netns/${ns}`));
    if (taken.length > 0 || (await readState(stateDir, prefix)) !== undefined) {
      throw new LabError(LabErrorCode.badPrefix, `lab prefix "${prefix}" is in use (${taken.join(', ') || 'state file exists'}); pick another or run Lab.down("${prefix}")`);
    }
    const lab = new Lab(topology, plan, stateDir, { pid: process.pid, startTime: processStartTime(process.pid) ?? '' });
    // The state file is written before the first namespace exists, so a crash at any point
    // leaves something Lab.down(prefix) can find.
    await writeState(stateDir, lab.state);
    try {
      await lab.build();
    } catch (error) {
      await lab.down();
      throw error;
    }
    return lab;
  }

  private async build(): Promise<void> {
    for (const ns of this.plan.namespaces) await this.mustRun(['ip', 'netns', 'add', ns]);
    for (const setup of this.plan.setups) {
      await this.mustRun(['ip', 'netns', 'exec', setup.ns, 'sysctl', '-q', '-w', ...setup.sysctls]);
    }
    if (this.plan.veths.length > 0) await this.mustRun(['ip', '-batch', '-'], { input: `${this.plan.veths.join('\n')}\n` });
    for (const setup of this.plan.setups) {
      await this.mustRun(['ip', '-n', setup.ns, '-batch', '-'], { input: `${setup.batch.join('\n')}\n` });
    }
  }

  private async mustRun(argv: readonly string[], options: ExecOptions = {}): Promise<string> {
    const result = await runCommand(argv, options);
    if (result.exitCode === 0) return result.stdout;
    const why = result.timedOut ? `timed out after ${options.timeoutMs ?? 10_000} ms` : `exit ${result.exitCode ?? 'none'}`;
    throw new LabError(LabErrorCode.commandFailed, `${argv.join(' ')}: ${why}: ${result.stderr.trim()}`);
  }

  /** Namespace name of a host or pod. */
  ns(host: string): string {
    if (!this.plan.setups.some((s) => s.host === host)) {
      throw new LabError(LabErrorCode.badTopology, `no host "${host}" in this lab; hosts are ${this.plan.setups.map((s) => s.host).join(', ')}`);
    }
    return `${this.prefix}-${host}`;
  }

  private checkOpen(): void {
    if (this.closed) throw new LabError(LabErrorCode.down, `lab ${this.prefix} is down`);
  }

  /** Runs argv inside the host's namespace to completion; returns stdout, throws with stderr. */
  async exec(host: string, argv: readonly string[], options: ExecOptions = {}): Promise<string> {
    this.checkOpen();
    return this.mustRun(['ip', 'netns', 'exec', this.ns(host), ...argv], options);
  }

  /** Starts a long-running process in the host's namespace; `down()` stops it. */
  async spawn(host: string, argv: readonly string[]): Promise<LabProcess> {
    this.checkOpen();
    // `ip netns exec` execs the command in place, so the PID we track is the command itself.
    const child = spawnChild('ip', ['netns', 'exec', this.ns(host), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid === undefined) throw new LabError(LabErrorCode.commandFailed, `could not start ${argv.join(' ')} in ${host}`);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    const tracked: TrackedProcess = { pid, startTime: processStartTime(pid) ?? '', host, argv };
    this.state = { ...this.state, processes: [...this.state.processes, tracked] };
    // Writes are chained so concurrent spawns land in order and the last one has every PID.
    const snapshot = this.state;
    this.writing = this.writing.then(() => writeState(this.stateDir, snapshot));
    await this.writing;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    const waitForLine = (pattern: RegExp, timeoutMs: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const line = stdout.split('\n').find((l) => pattern.test(l));
          if (line === undefined) return false;
          done();
          resolve(line);
          return true;
        };
        const onExit = (): void => {
          done();
          reject(new LabError(LabErrorCode.notReady, `${argv.join(' ')} in ${host} exited before printing ${pattern}: ${stderr.trim()}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new LabError(LabErrorCode.notReady, `${argv.join(' ')} in ${host} printed no ${pattern} within ${timeoutMs} ms: ${stderr.trim()}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.off('exit', onExit);
        };
        if (check()) return;
        if (child.exitCode !== null || child.signalCode !== null) {
          onExit();
          return;
        }
        child.stdout.on('data', check);
        child.once('exit', onExit);
      });
    return { pid, host, argv, child, waitForLine };
  }

  /** Starts the HTTP+UDP backend in every pod of the topology and waits until each listens. */
  async startBackends(options: { port?: number; timeoutMs?: number } = {}): Promise<Backend[]> {
    const port = options.port ?? 80;
    return Promise.all(
      (this.topology.pods ?? []).map(async (pod) => {
        const proc = await this.spawn(pod.name, [process.execPath, BACKEND_SERVER, '--name', pod.name, '--port', String(port)]);
        await proc.waitForLine(/^listening /, options.timeoutMs ?? 10_000);
        return { name: pod.name, host: pod.name, addresses: pod.addresses, port, process: proc };
      }),
    );
  }

  /** One HTTP request with curl from `host`. Never throws for a failed request: see `error`. */
  async curl(host: string, url: string, options: { timeoutMs?: number } = {}): Promise<CurlResult> {
    this.checkOpen();
    const timeoutMs = options.timeoutMs ?? 3000;
    const r = await runCommand(['ip', 'netns', 'exec', this.ns(host), ...curlArgv(url, timeoutMs)], { timeoutMs: timeoutMs + 2000 });
    return parseCurl(r.stdout, r.stderr, r.exitCode);
  }

  /**
   * Sends one UDP datagram from `host` and returns the first reply as text (the lab backends
   * echo their name), or undefined when none came within `timeoutMs`. The lab's stand-in for
   * ping, which this machine does not have.
   */
  async udp(host: string, address: string, port: number, options: { timeoutMs?: number } = {}): Promise<string | undefined> {
    this.checkOpen();
    const timeoutMs = options.timeoutMs ?? 2000;
    const r = await runCommand(['ip', 'netns', 'exec', this.ns(host), process.execPath, '-e', UDP_PROBE, address, String(port), String(timeoutMs)], {
      timeoutMs: timeoutMs + 3000,
    });
    return r.exitCode === 0 ? r.stdout : undefined;
  }

  /**
   * `count` requests from `host`, at most `concurrency` at a time, each on a new connection;
   * the whole loop is killed after `maxMs` (the result then says `cutShort`).
   */
  async requestLoop(host: string, url: string, options: { count: number; maxMs: number; concurrency?: number; timeoutMs?: number }): Promise<RequestLoopResult> {
    this.checkOpen();
    const count = Math.max(0, Math.min(Math.trunc(options.count), 100_000));
    const concurrency = Math.max(1, Math.min(options.concurrency ?? 1, 64));
    const argv = requestLoopArgv(url, count, concurrency, options.timeoutMs ?? 2000);
    const r = await runCommand(['ip', 'netns', 'exec', this.ns(host), ...argv], { timeoutMs: options.maxMs });
    return parseRequestLoop(r.stdout, count);
  }

  /**
   * Requests from `host` for `durationMs` (at most 120 s), `concurrency` at a time, each on a new
   * connection, every one timestamped: for measuring how long a failover interrupts traffic.
   */
  async flowProbe(host: string, url: string, options: { durationMs: number; concurrency?: number; timeoutMs?: number }): Promise<FlowSample[]> {
    this.checkOpen();
    const durationMs = Math.max(0, Math.min(options.durationMs, 120_000));
    const argv = [process.execPath, FLOW_PROBE, url, String(durationMs), String(options.concurrency ?? 4), String(options.timeoutMs ?? 500)];
    const r = await runCommand(['ip', 'netns', 'exec', this.ns(host), ...argv], { timeoutMs: durationMs + 15_000 });
    return parseFlowSamples(r.stdout);
  }

  /** Stops the lab's processes and deletes its namespaces (and with them every veth and bridge). */
  async down(): Promise<DownReport> {
    this.closed = true;
    const report = await teardown(this.stateDir, this.state);
    this.children.clear();
    return report;
  }

  /**
   * Tears the lab down on SIGINT/SIGTERM, then exits (130/143). Opt-in, so a test runner's own
   * handling is not replaced by surprise. Returns a function that removes the handlers.
   */
  removeOnSignals(): () => void {
    const handlers = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
      const handler = (): void => {
        void this.down().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      };
      process.once(signal, handler);
      return [signal, handler] as const;
    });
    return () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    };
  }

  /** Removes a lab by prefix from its state file (and any `<prefix>-*` namespace left without one). */
  static async down(prefix: string, options: { stateDir?: string } = {}): Promise<DownReport> {
    if (!PREFIX.test(prefix)) throw new LabError(LabErrorCode.badPrefix, `lab prefix "${prefix}" must be 2 to 12 lowercase letters or digits`);
    const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
    const state = await readState(stateDir, prefix);
    return teardown(stateDir, state ?? { prefix, createdAt: '', owner: { pid: 0, startTime: '' }, namespaces: [], processes: [] });
  }

  /** Labs with a state file, whether their owner still runs, and which of their namespaces exist. */
  static async list(options: { stateDir?: string } = {}): Promise<LabStatus[]> {
    const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
    const out: LabStatus[] = [];
    for (const prefix of await listStatePrefixes(stateDir)) {
      const state = await readState(stateDir, prefix);
      if (state === undefined) continue;
      out.push({
        prefix,
        createdAt: state.createdAt,
        namespaces: state.namespaces.filter((ns) => existsSync(`/run/netns/${ns}`)),
        ownerAlive: processStartTime(state.owner.pid) === state.owner.startTime,
        processesAlive: state.processes.filter((p) => processStartTime(p.pid) === p.startTime).length,
      });
    }
    return out;
  }

  /**
   * Removes leftover labs: by default only those whose owner process is gone, so a lab another
   * run is using right now is not pulled from under it. Returns the prefixes removed.
   */
  static async downAll(options: { stateDir?: string; includeLive?: boolean } = {}): Promise<string[]> {
    const removed: string[] = [];
    for (const status of await Lab.list(options)) {
      if (status.ownerAlive && options.includeLive !== true) continue;
      await Lab.down(status.prefix, options);
      removed.push(status.prefix);
    }
    return removed;
  }
}
