import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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

/** A JSON file, replaced atomically (write to a temporary name, then rename). */
export function fileAssignmentStore(path: string): AssignmentStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
        throw new AgentError(AgentErrorCode.stateFile, `cannot read ${path}: ${(error as Error).message}`, { cause: error });
      }
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
