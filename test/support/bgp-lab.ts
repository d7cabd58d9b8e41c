// A two-namespace BGP lab for tests: "r" runs BIRD 2 as the datacenter router, "l" is the LB
// node where the speaker runs (in a child process, so its sockets live in that namespace).
// Everything is named with a random prefix and removed by `destroy()`, also after failures.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function shAsync(cmd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return stdout;
}

/** Polls `check` every `everyMs` until it returns true, for at most `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000, everyMs = 100): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await check()) return performance.now() - start;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export interface BgpLab {
  readonly router: string;
  readonly lb: string;
  readonly dir: string;
  readonly birdCtl: string;
  birdc(...args: string[]): Promise<string>;
  routerRoutes(family: 4 | 6): Promise<string>;
  startBird(config: string): Promise<void>;
  destroy(): Promise<void>;
}

export const ROUTER_V4 = '10.10.12.1';
export const LB_V4 = '10.10.12.2';
export const ROUTER_V6 = 'fd00:12::1';
export const LB_V6 = 'fd00:12::2';

export function createBgpLab(): BgpLab {
  const tag = randomBytes(2).toString('hex');
  const router = `vgt${tag}-r`;
  const lb = `vgt${tag}-l`;
  const dir = mkdtempSync(join(tmpdir(), `vgt${tag}-bgp-`));
  const birdCtl = join(dir, 'R.ctl');
  let bird: ChildProcess | undefined;
  const made: string[] = [];
  const lab: BgpLab = {
    router,
    lb,
    dir,
    birdCtl,
    // birdc exits 1 for answers like "Network not found": the text is still the answer.
    birdc: async (...args) => {
      try {
        return await shAsync('birdc', '-s', birdCtl, ...args);
      } catch (e) {
        const stdout = (e as { stdout?: unknown }).stdout;
        if (typeof stdout === 'string' && stdout.startsWith('BIRD')) return stdout;
        throw e;
      }
    },
    routerRoutes: (family) => shAsync('ip', '-n', router, `-${family}`, 'route', 'show'),
    async startBird(config) {
      writeFileSync(join(dir, 'R.conf'), config);
      bird = spawn('ip', ['netns', 'exec', router, 'bird', '-f', '-c', join(dir, 'R.conf'), '-s', birdCtl, '-P', join(dir, 'R.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
      bird.on('error', () => undefined);
      await eventually(async () => {
        try {
          return (await lab.birdc('show', 'status')).includes('Daemon is up');
        } catch {
          return false;
        }
      }, 'BIRD to answer on its control socket', 10_000);
    },
    async destroy() {
      // `ip netns exec` execs bird in place, so the child's PID is BIRD's (the pid file agrees).
      const pids = new Set<number>();
      if (bird?.pid !== undefined) pids.add(bird.pid);
      try {
        pids.add(Number(readFileSync(join(dir, 'R.pid'), 'utf8').trim()));
      } catch {
        /* never started */
      }
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      const running = bird;
      if (running !== undefined && running.exitCode === null && running.signalCode === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 3000);
          running.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      for (const ns of made.reverse()) {
        try {
          sh('ip', 'netns', 'del', ns);
        } catch {
          /* already gone */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    sh('ip', 'netns', 'add', router);
    made.push(router);
    sh('ip', 'netns', 'add', lb);
    made.push(lb);
    sh('ip', 'link', 'add', `vg${tag}r`, 'netns', router, 'type', 'veth', 'peer', 'name', `vg${tag}l`, 'netns', lb);
    for (const [ns, dev, v4, v6] of [[router, `vg${tag}r`, ROUTER_V4, ROUTER_V6], [lb, `vg${tag}l`, LB_V4, LB_V6]] as const) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev);
      // nodad: the address is usable at once instead of after duplicate address detection.
      sh('ip', '-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad');
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
  } catch (e) {
    void lab.destroy();
    throw e;
  }
  return lab;
}

/** BIRD as the router, after LAB-NOTES: learns from the LB node, installs BGP routes with ECMP. */
export function routerBirdConfig(extra = ''): string {
  return `router id ${ROUTER_V4};
log stderr all;
protocol device { scan time 10; }
protocol kernel k4 { ipv4 { import none; export where source = RTS_BGP; }; learn off; merge paths yes limit 8; }
protocol kernel k6 { ipv6 { import none; export where source = RTS_BGP; }; learn off; merge paths yes limit 8; }
template bgp lbnode { local as 65001; hold time 9; keepalive time 3; connect retry time 1;
  ipv4 { import all; export none; }; ipv6 { import all; export none; }; }
protocol bgp lb1 from lbnode { neighbor ${LB_V4} as 65002; ${extra} }
`;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

/** The speaker, running in the LB namespace in a child process, driven by JSON lines. */
export class SpeakerChild {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  readonly stderr: string[] = [];
  private readonly child: ChildProcess;
  exited = false;

  constructor(namespace: string) {
    const script = join(import.meta.dirname, 'bgp-speaker-child.ts');
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.on('exit', () => (this.exited = true));
    this.child.on('error', () => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  async call(cmd: string, fields: object = {}): Promise<unknown> {
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`speaker child did not answer "${cmd}" in 15 s; stderr:\n${this.stderr.join('\n')}`)), 15_000);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.stdin!.write(`${JSON.stringify({ id, cmd, ...fields })}\n`);
    });
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  }

  /** Kills the child by its PID, as a crash would (no CEASE). */
  kill(): void {
    if (!this.exited && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  waitExit(timeoutMs = 5000): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
