// Removing a lab: its processes first (a namespace with a process in it outlives `ip netns del`,
// veths and all), then its namespaces, then its state file.
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from './run.ts';
import { isSameProcess, processStartTime, removeState, type LabState } from './state.ts';

export interface DownReport {
  readonly prefix: string;
  /** PIDs that were still running and were stopped. */
  readonly killed: readonly number[];
  readonly namespacesDeleted: readonly string[];
}

async function stop(pids: ReadonlyMap<number, string>): Promise<number[]> {
  const alive = [...pids].filter(([pid, start]) => isSameProcess(pid, start));
  for (const [pid] of alive) signal(pid, 'SIGTERM');
  // Up to 1 s for a clean exit, then SIGKILL — re-checking the start time each time, so a PID
  // reused in between is never hit.
  for (let i = 0; i < 20 && alive.some(([pid, start]) => isSameProcess(pid, start)); i += 1) await sleep(50);
  for (const [pid, start] of alive) if (isSameProcess(pid, start)) signal(pid, 'SIGKILL');
  return alive.map(([pid]) => pid);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function existingNamespaces(prefix: string): string[] {
  try {
    return readdirSync('/run/netns').filter((ns) => ns.startsWith(`${prefix}-`));
  } catch {
    return [];
  }
}

export async function teardown(stateDir: string, state: LabState): Promise<DownReport> {
  const tracked = new Map(state.processes.map((p) => [p.pid, p.startTime]));
  const killed = await stop(tracked);
  // Namespaces named by the state file, plus any `<prefix>-*` (a crash between `netns add` and
  // the state write): the prefix is unique to this lab.
  const namespaces = [...new Set([...state.namespaces, ...existingNamespaces(state.prefix)])].filter((ns) => existingNamespaces(state.prefix).includes(ns));
  // Anything still running inside the lab's own namespaces was started there through the lab
  // (a curl cut off by a timeout, a child of a backend): stop those too, by PID.
  const inside = new Map<number, string>();
  for (const ns of namespaces) {
    const r = await runCommand(['ip', 'netns', 'pids', ns], { timeoutMs: 5000 });
    for (const pid of r.stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0)) {
      const start = processStartTime(pid);
      if (start !== undefined) inside.set(pid, start);
    }
  }
  killed.push(...(await stop(inside)));
  const deleted: string[] = [];
  for (const ns of namespaces) {
    const r = await runCommand(['ip', 'netns', 'del', ns], { timeoutMs: 10_000 });
    if (r.exitCode === 0) deleted.push(ns);
  }
  if (existingNamespaces(state.prefix).length === 0) await removeState(stateDir, state.prefix);
  return { prefix: state.prefix, killed, namespacesDeleted: deleted };
}
