// What a lab leaves on disk so that it can be removed by another process: its namespaces and
// the processes it started, each with its start time (a PID alone may have been reused by then).
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_STATE_DIR = '/run/vipgate/labs';

export interface TrackedProcess {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot) when the lab started it. */
  readonly startTime: string;
  readonly host: string;
  readonly argv: readonly string[];
}

export interface LabState {
  readonly prefix: string;
  readonly createdAt: string;
  readonly owner: { readonly pid: number; readonly startTime: string };
  readonly namespaces: readonly string[];
  readonly processes: readonly TrackedProcess[];
}

export function statePath(stateDir: string, prefix: string): string {
  return join(stateDir, `${prefix}.json`);
}

/** Start time of a live process, or undefined when there is no such process (or only its zombie). */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has exited; it only waits for its parent to reap it.
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** True when `pid` is still the very process that was recorded. */
export function isSameProcess(pid: number, startTime: string): boolean {
  return processStartTime(pid) === startTime;
}

let tmpCounter = 0;

export async function writeState(stateDir: string, state: LabState): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const path = statePath(stateDir, state.prefix);
  // Write-then-rename: a lab killed mid-write never leaves half a file behind.
  const tmp = `${path}.${process.pid}.${(tmpCounter += 1)}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, path);
}

export async function readState(stateDir: string, prefix: string): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(stateDir, prefix), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export async function removeState(stateDir: string, prefix: string): Promise<void> {
  await rm(statePath(stateDir, prefix), { force: true });
}

export async function listStatePrefixes(stateDir: string): Promise<string[]> {
  try {
    return (await readdir(stateDir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
}
