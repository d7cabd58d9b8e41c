import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError, AgentErrorCode } from './errors.ts';

/**
 * Where LoadBalancer assignments survive a restart in standalone mode (in Kubernetes the
 * Services' status is the record). Without it, a service added to the config while the agent
 * was down could shift the deterministic allocation of the others.
 */
export interface AssignmentStore {
  load(): Promise<Map<string, readonly string[]>>;
  save(assignments: ReadonlyMap<string, readonly string[]>): Promise<void>;
}

interface StateFileV1 {
  readonly version: 1;
  readonly assignments: Record<string, readonly string[]>;
}

function isStateFileV1(value: unknown): value is StateFileV1 {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.version === 1 && typeof v.assignments === 'object' && v.assignments !== null;
}

/** A state file's text; undefined when there is none yet (a first start). */
export async function readIfThere(path: string, code: AgentErrorCode): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentError(code, `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** A JSON file, replaced atomically (write to a temporary name, then rename). */
export function fileAssignmentStore(path: string): AssignmentStore {
  return {
    async load() {
      const text = await readIfThere(path, AgentErrorCode.stateFile);
      if (text === undefined) return new Map();
      try {
        const parsed = JSON.parse(text) as unknown;
        if (!isStateFileV1(parsed)) throw new Error('not a vipgate state file (version 1)');
        return new Map(
          Object.entries(parsed.assignments).filter(
            (entry): entry is [string, string[]] => Array.isArray(entry[1]) && entry[1].every((a) => typeof a === 'string'),
          ),
        );
      } catch (error) {
        throw new AgentError(AgentErrorCode.stateFile, `${path} is damaged: ${(error as Error).message}`, { cause: error });
      }
    },
    async save(assignments) {
      const body: StateFileV1 = { version: 1, assignments: Object.fromEntries([...assignments].sort()) };
      try {
        await mkdir(dirname(path), { recursive: true });
        const temporary = `${path}.${process.pid}.tmp`;
        await writeFile(temporary, `${JSON.stringify(body, null, 2)}\n`);
        await rename(temporary, path);
      } catch (error) {
        // Typically a container's read-only root filesystem with nothing mounted there.
        throw new AgentError(
          AgentErrorCode.stateFile,
          `cannot write ${path}: ${(error as Error).message}; VIPs are served, but assignments and the restart marker for BGP graceful restart are not kept (mount a writable volume at ${dirname(path)}, or pass --state-file)`,
          { cause: error },
        );
      }
    },
  };
}

/** For tests and `--no-state`: forgets everything on exit. */
export function memoryAssignmentStore(initial: ReadonlyMap<string, readonly string[]> = new Map()): AssignmentStore {
  let saved = new Map(initial);
  return {
    load: () => Promise.resolve(new Map(saved)),
    save: (assignments) => {
      saved = new Map(assignments);
      return Promise.resolve();
    },
  };
}

/**
 * What an agent finds at start about an earlier run on this node, for BGP graceful restart
 * (RFC 4724): `restarted` sets the R bit, so routers keep our routes until End-of-RIB;
 * `forwardingPreserved` sets the F bit — true only when the earlier run was in this boot, so
 * its nftables/XDP state is still in the kernel. After a reboot the kernel is empty: F=0 makes
 * routers drop stale routes at once rather than send traffic into nothing.
 */
export interface EarlierRun {
  readonly restarted: boolean;
  readonly forwardingPreserved: boolean;
}

interface RunMarkerV1 {
  readonly version: 1;
  /** /proc/sys/kernel/random/boot_id when the agent started. */
  readonly bootId: string;
  readonly pid: number;
  readonly startedAt: string;
}

/** This boot's id; differs after every reboot. */
export async function currentBootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

/**
 * The run marker: a small file every agent writes at start, whatever its config (a config with
 * only externalIPs never writes assignments, so the state file alone cannot tell a restart from a
 * first start), and that only `--cleanup` deletes.
 */
export function runMarker(path: string, bootId: () => Promise<string> = currentBootId) {
  return {
    path,
    /** What the marker says about the run before this one (call before `write`). */
    async read(): Promise<EarlierRun> {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        return { restarted: false, forwardingPreserved: false };
      }
      let earlier: string | undefined;
      try {
        earlier = (JSON.parse(text) as Partial<RunMarkerV1>).bootId;
      } catch {
        earlier = undefined;
      }
      // A damaged marker still says an agent ran here; only the kernel state is in doubt.
      return { restarted: true, forwardingPreserved: earlier !== undefined && earlier === (await bootId()) };
    },
    async write(): Promise<void> {
      const body: RunMarkerV1 = { version: 1, bootId: await bootId(), pid: process.pid, startedAt: new Date().toISOString() };
      await mkdir(dirname(path), { recursive: true });
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, `${JSON.stringify(body)}\n`);
      await rename(temporary, path);
    },
    remove: (): Promise<void> => rm(path, { force: true }),
  };
}

/** The run marker's path: the state file's, plus `.run` (one per agent, even when several share a directory). */
export function runMarkerPath(stateFile: string): string {
  return `${stateFile}.run`;
}
