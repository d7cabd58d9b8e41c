// Draining the LB node (docs/design/013-drain.md): announce every route with GRACEFUL_SHUTDOWN
// and a lower preference, wait until no packet reaches a VIP here (bounded by a timeout), then
// withdraw. The request from `vipgate drain` is kept in a file so that it outlives a restart;
// the cluster's (a cordoned Node, an LBNodeConfig's spec.drain) is read again at every start.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { DrainStateName, DrainStatus } from '../api/status.ts';
import type { DrainAnnouncement } from './bgp-announcer-policy.ts';
import { AgentError, AgentErrorCode } from './errors.ts';
import { readIfThere } from './state-store.ts';

export type { DrainStateName, DrainStatus } from '../api/status.ts';

/** What `vipgate drain` records as the requester. */
export const CLI_REQUEST = 'vipgate drain';

/** The operator's drain request across restarts: its time, or undefined when there is none. */
export interface DrainStore {
  load(): Promise<string | undefined>;
  save(requestedAt: string | undefined): Promise<void>;
}

/** `<state-file>.drain.json`, replaced atomically; absent means not drained. */
export function fileDrainStore(path: string): DrainStore {
  return {
    async load() {
      const text = await readIfThere(path, AgentErrorCode.drainFile);
      if (text === undefined) return undefined;
      const parsed = JSON.parse(text) as { version?: unknown; requestedAt?: unknown };
      if (parsed.version !== 1) throw new AgentError(AgentErrorCode.drainFile, `${path} is not a vipgate drain file (version 1)`);
      return typeof parsed.requestedAt === 'string' ? parsed.requestedAt : undefined;
    },
    async save(requestedAt) {
      try {
        await mkdir(dirname(path), { recursive: true });
        const temporary = `${path}.${process.pid}.tmp`;
        await writeFile(temporary, `${JSON.stringify(requestedAt === undefined ? { version: 1 } : { version: 1, requestedAt })}\n`);
        await rename(temporary, path);
      } catch (error) {
        throw new AgentError(AgentErrorCode.drainFile, `cannot write ${path}: ${(error as Error).message}; the drain would not survive a restart`, { cause: error });
      }
    },
  };
}

export function memoryDrainStore(initial?: string): DrainStore {
  let saved = initial;
  return {
    load: () => Promise.resolve(saved),
    save: (requestedAt) => {
      saved = requestedAt;
      return Promise.resolve();
    },
  };
}

export interface DrainTiming {
  readonly timeoutSeconds: number;
  readonly quietSeconds: number;
}

export interface NodeDrainDeps {
  /** Tells the announcer how to announce: undefined normally, else the drain's stage. */
  readonly announce: (mode: DrainAnnouncement | undefined) => void;
  /** Packets the dataplane has seen to all VIPs so far (its per-frontend counters summed). */
  readonly packets: () => Promise<bigint>;
  /** The node's `bgp.drain` timers now. */
  readonly timing: () => DrainTiming;
  readonly store: DrainStore;
  readonly log: Logger;
  /** Between two counter reads while draining. */
  readonly pollMs?: number;
  readonly now?: () => number;
  readonly delay?: (ms: number) => Promise<void>;
}

/** The drain state machine; one per agent. */
export class NodeDrain {
  private state: DrainStateName = 'not-drained';
  private since: number;
  private deadline: number | undefined;
  private cliRequestedAt: string | undefined;
  private clusterRequest: string | undefined;
  /** Bumped by every state change: a wait that sees another value was overtaken and stops. */
  private generation = 0;
  private waiting: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly delay: (ms: number) => Promise<void>;
  private readonly listeners: ((status: DrainStatus) => void)[] = [];

  constructor(private readonly deps: NodeDrainDeps) {
    this.now = deps.now ?? Date.now;
    this.delay = deps.delay ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.since = this.now();
  }

  /**
   * Reads the operator's request kept from an earlier run. A node restarted while drained comes
   * up drained, announcing nothing: call this before the first reconcile pass.
   */
  async start(clusterRequest: string | undefined): Promise<void> {
    this.cliRequestedAt = await this.deps.store.load();
    this.clusterRequest = clusterRequest;
    if (this.requestedBy().length > 0) {
      this.enter('drained');
      this.deps.announce('withdrawn');
      this.deps.log.warn({ requestedBy: this.requestedBy() }, 'starting drained: no route is announced until `vipgate undrain`');
    }
  }

  status(): DrainStatus {
    return {
      state: this.state,
      since: new Date(this.since).toISOString(),
      requestedBy: this.requestedBy(),
      ...(this.state === 'draining' && this.deadline !== undefined ? { deadline: new Date(this.deadline).toISOString() } : {}),
    };
  }

  /** Called with every new status (metrics, logs). */
  onChange(listener: (status: DrainStatus) => void): void {
    this.listeners.push(listener);
  }

  /** `vipgate drain`: recorded first (so it outlives a restart), then acted on. */
  async drain(): Promise<DrainStatus> {
    if (this.cliRequestedAt === undefined) {
      const at = new Date(this.now()).toISOString();
      await this.deps.store.save(at);
      this.cliRequestedAt = at;
    }
    this.update();
    return this.status();
  }

  /** `vipgate undrain`: the operator's request goes; the cluster's, if any, stays. */
  async undrain(): Promise<DrainStatus> {
    if (this.cliRequestedAt !== undefined) {
      await this.deps.store.save(undefined);
      this.cliRequestedAt = undefined;
    }
    this.update();
    return this.status();
  }

  /** The cluster's request (a cordoned Node, an LBNodeConfig's spec.drain), or undefined. */
  setClusterRequest(reason: string | undefined): void {
    if (reason === this.clusterRequest) return;
    this.clusterRequest = reason;
    this.update();
  }

  /** Resolves when the current wait (if any) has ended: for tests and shutdown. */
  settled(): Promise<void> {
    return this.waiting;
  }

  private requestedBy(): string[] {
    return [...(this.cliRequestedAt === undefined ? [] : [CLI_REQUEST]), ...(this.clusterRequest === undefined ? [] : [this.clusterRequest])];
  }

  private update(): void {
    const wanted = this.requestedBy().length > 0;
    if (wanted && this.state === 'not-drained') this.begin();
    else if (!wanted && this.state !== 'not-drained') {
      this.enter('not-drained');
      this.deps.announce(undefined);
      this.deps.log.info('undrained: routes announced normally again');
    }
  }

  private enter(state: DrainStateName): void {
    this.state = state;
    this.since = this.now();
    this.generation += 1;
    if (state !== 'draining') this.deadline = undefined;
    const status = this.status();
    for (const listener of this.listeners) listener(status);
  }

  private begin(): void {
    const { timeoutSeconds, quietSeconds } = this.deps.timing();
    this.deadline = this.now() + timeoutSeconds * 1000;
    this.enter('draining');
    this.deps.announce('graceful-shutdown');
    this.deps.log.warn({ requestedBy: this.requestedBy(), timeoutSeconds, quietSeconds }, 'draining: routes re-announced with GRACEFUL_SHUTDOWN (65535:0) and a lower preference');
    const generation = this.generation;
    this.waiting = this.waitForQuiet(generation, quietSeconds * 1000).catch((error: unknown) => {
      this.deps.log.error({ err: error }, 'watching the VIP counters failed; withdrawing at the drain timeout');
    });
  }

  /**
   * Withdraws once the VIP packet counters stood still for `quietMs` (the routers send new flows
   * elsewhere and the last ones here ended), or at the deadline, whichever comes first.
   */
  private async waitForQuiet(generation: number, quietMs: number): Promise<void> {
    const pollMs = this.deps.pollMs ?? 200;
    let last = await this.deps.packets().catch(() => undefined);
    let lastMoved = this.now();
    while (this.generation === generation) {
      const now = this.now();
      const deadline = this.deadline ?? now;
      if (now >= deadline || now - lastMoved >= quietMs) {
        const why = now - lastMoved >= quietMs ? `no packet to a VIP for ${quietMs / 1000} s` : 'the drain timeout passed';
        this.enter('drained');
        this.deps.announce('withdrawn');
        this.deps.log.warn(`drained (${why}): routes withdrawn`);
        return;
      }
      await this.delay(Math.min(pollMs, Math.max(1, deadline - now)));
      if (this.generation !== generation) return;
      const packets = await this.deps.packets().catch(() => undefined);
      // An unreadable counter counts as movement: only the timeout ends the wait then.
      if (packets === undefined || packets !== last) lastMoved = this.now();
      last = packets;
    }
  }
}
