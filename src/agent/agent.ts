import type { Logger } from 'pino';
import type { ApplyReport, Dataplane } from '../dataplane/dataplane.ts';
import type { Host } from '../host/index.ts';
import type { AgentStatus, LastPass } from '../api/status.ts';
import type { AgentInput, Frontend, ServiceProblem, ServiceTable } from '../model/index.ts';
import { EMPTY_TABLE } from '../model/index.ts';
import type { Announcer, StopKind } from './announcer.ts';
import { computeDesiredState, sameAssignments, type AllocationMemo } from './desired.ts';
import { AgentErrorCode } from './errors.ts';
import { FrontendIds } from './frontend-ids.ts';
import type { AgentMetrics } from './metrics.ts';
import type { AssignmentStore } from './state-store.ts';

/**
 * Wait between an input and its pass. Short: the sources already coalesce their own bursts
 * (the file 50 ms of quiet, Kubernetes a 10 ms window), inputs handed over in the same moment
 * (settings and cluster state) still make one pass, and passes never overlap, so changes during
 * a pass are one more pass anyway. (50 ms here was a third of the one-EndpointSlice-change
 * latency; docs/design/000-foundation.md.)
 */
export const DEFAULT_DEBOUNCE_MS = 2;

export type { AgentInput } from '../model/index.ts';


export interface AgentDeps {
  readonly dataplane: Dataplane;
  readonly host?: Host;
  readonly announcer: Announcer;
  /** Each pass: whether the dataplane applied (L2 mode hands the VIPs to peers while it does not). */
  readonly dataplaneHealth?: (healthy: boolean) => void;
  readonly store: AssignmentStore;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** Wait between a change and the pass that handles it, so a burst becomes one pass. */
  readonly debounceMs?: number;
  /** How often the kernel is read back and drift repaired; 0 turns it off. */
  readonly resyncMs?: number;
  /** Wait before retrying a pass whose effect failed. */
  readonly retryMs?: number;
}

export type { AgentStatus, LastPass } from '../api/status.ts';

/**
 * The reconcile loop on an LB node. Level-triggered: every pass computes the whole desired state
 * from the latest input and hands it, whole, to each effect (host, dataplane, announcer), which
 * work out the difference themselves. Passes never overlap; changes during a pass cause one more
 * pass. A failed effect is retried; the others still run. A bad Service is a problem on that
 * Service, never a failed pass.
 */
export class Agent {
  private input: AgentInput | undefined;
  private assignments = new Map<string, readonly string[]>();
  private assignmentsLoaded = false;
  private readonly ids = new FrontendIds();
  private served: ServiceTable = EMPTY_TABLE;
  private problems: readonly ServiceProblem[] = [];
  private advertisements: readonly string[] = [];
  private hostKind: string | undefined;
  /** The VIP interface spec last applied without error (JSON); undefined: apply on the next pass. */
  private hostApplied: string | undefined;
  private lastPass: LastPass | undefined;
  private configError: string | undefined;
  private frontendIds: ReadonlyMap<string, number> = new Map();
  /** The frontends `frontendIds` was computed for. */
  private idsFor: readonly Frontend[] | undefined;
  private allocationMemo: AllocationMemo | undefined;

  private running: Promise<void> | undefined;
  private dirty = false;
  private resyncWanted = true; // the first pass always reads the kernel back
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: AgentDeps) {}

  /**
   * Hands the agent a new desired input; a pass follows within `debounceMs`. The window is
   * fixed, not restarted by later inputs, so a steady stream of changes cannot postpone the
   * pass; inputs that arrive while a pass runs make exactly one more pass.
   */
  setInput(input: AgentInput): void {
    this.input = input;
    this.configError = undefined;
    this.schedule(this.deps.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  /** Records that the source's latest input was refused; the last good one keeps serving. */
  setInputError(message: string): void {
    this.configError = message;
  }

  start(): void {
    const resyncMs = this.deps.resyncMs ?? 30_000;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        this.resyncWanted = true;
        this.schedule(0);
      }, resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Runs one pass now (after any pass in progress); resolves when it is done. */
  async reconcileNow(options: { resync?: boolean } = {}): Promise<void> {
    if (options.resync === true) this.resyncWanted = true;
    this.dirty = true;
    await this.drain();
  }

  /**
   * Stops the loop. `restart` (default): rules stay in the kernel and routers keep our routes
   * (graceful restart), so traffic flows on until the next agent takes over. `remove`: routers
   * withdraw our routes, and the rules and the VIP interface are removed.
   */
  async stop(options: { kind?: StopKind } = {}): Promise<void> {
    const kind = options.kind ?? 'restart';
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.running;
    await this.deps.announcer.stop(kind);
    if (kind === 'remove') {
      await this.deps.dataplane.cleanup();
      if (this.deps.host && this.input?.vipInterface) await this.deps.host.cleanup(this.input.vipInterface);
    }
    await this.deps.dataplane.close();
  }

  status(): AgentStatus {
    return {
      engine: this.deps.dataplane.engine,
      announcer: this.deps.announcer.kind,
      table: this.served,
      frontendIds: this.frontendIds,
      problems: this.problems,
      advertisements: this.advertisements,
      ...(this.input?.vipInterface && this.hostKind !== undefined
        ? { vipInterface: { name: this.input.vipInterface.name, kind: this.hostKind } }
        : {}),
      ...(this.lastPass ? { lastPass: this.lastPass } : {}),
      ...(this.configError === undefined ? {} : { configError: this.configError }),
      ...(this.input === undefined ? {} : { input: this.input }),
    };
  }

  /** Arranges a pass in `delayMs`, unless one is already due sooner (nothing postpones a pass). */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const due = performance.now() + delayMs;
    if (this.timer) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dirty = true;
      void this.drain();
    }, delayMs);
  }

  private async drain(): Promise<void> {
    while (this.running) await this.running;
    if (!this.dirty || this.input === undefined) return;
    this.running = (async () => {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        await this.pass();
      }
    })();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async pass(): Promise<void> {
    const input = this.input;
    if (input === undefined) return;
    const { log, metrics } = this.deps;
    const started = performance.now();
    const errors: string[] = [];
    const resync = this.resyncWanted;
    this.resyncWanted = false;

    if (!this.assignmentsLoaded) {
      try {
        this.assignments = await this.deps.store.load();
        this.assignmentsLoaded = true;
      } catch (error) {
        // A damaged state file must not stop serving: allocation is deterministic anyway.
        log.error({ err: error }, 'assignment state unreadable; allocating from the config alone');
        this.assignmentsLoaded = true;
      }
    }

    const mark = (): number => performance.now();
    const t0 = mark();
    const desired = computeDesiredState(input, this.assignments, this.allocationMemo);
    this.allocationMemo = desired.memo;
    for (const problem of desired.problems) log.warn({ service: problem.service, code: problem.code }, problem.message);

    if (!sameAssignments(this.assignments, desired.assignments)) {
      this.assignments = new Map(desired.assignments);
      try {
        await this.deps.store.save(this.assignments);
      } catch (error) {
        errors.push(`${AgentErrorCode.stateFile}: ${(error as Error).message}`);
      }
    }

    const t1 = mark();
    // The VIP interface changes only with the node's settings, and reading it back spawns `ip`
    // (~40 ms, most of a one-backend-change pass): apply it when its spec changed, after a
    // failure, and on every resync pass, which also repairs hand-made changes.
    const hostSpec = input.vipInterface === undefined ? undefined : JSON.stringify(input.vipInterface);
    if (this.deps.host && input.vipInterface && (resync || hostSpec !== this.hostApplied)) {
      this.hostApplied = undefined;
      try {
        const report = await this.deps.host.apply(input.vipInterface);
        this.hostKind = report.kind;
        this.hostApplied = hostSpec;
      } catch (error) {
        metrics.reconcileErrors.inc({ effect: 'host' });
        errors.push(`${AgentErrorCode.hostFailed}: ${(error as Error).message}`);
      }
    }

    const t2 = mark();
    let dataplaneReport: ApplyReport | undefined;
    try {
      dataplaneReport = await this.deps.dataplane.apply(desired.table, { resync });
      this.served = desired.table;
      if (dataplaneReport.driftRepaired) {
        metrics.driftRepairs.inc();
        log.warn('the kernel state differed from what was applied (changed by hand?); repaired');
      }
    } catch (error) {
      metrics.reconcileErrors.inc({ effect: 'dataplane' });
      errors.push(`${AgentErrorCode.dataplaneFailed}: ${(error as Error).message}`);
      this.resyncWanted = true; // after a failure, trust the kernel's view, not ours
    }

    this.deps.dataplaneHealth?.(dataplaneReport !== undefined);
    const t3 = mark();
    // Announce only what the kernel has been programmed to serve.
    if (dataplaneReport !== undefined) {
      try {
        await this.deps.announcer.setAdvertisements(desired.advertisements);
        this.advertisements = desired.advertisements;
      } catch (error) {
        metrics.reconcileErrors.inc({ effect: 'announcer' });
        errors.push(`announcer: ${(error as Error).message}`);
      }
    }

    const t4 = mark();
    // IDs change only when the set of frontend keys does (most passes change backends only).
    if (!sameKeys(this.idsFor, this.served.frontends)) {
      this.frontendIds = new Map(this.ids.update(this.served.frontends.map((f) => f.key)));
      this.idsFor = this.served.frontends;
    }
    this.problems = desired.problems;
    metrics.frontends.set(this.served.frontends.length);
    let ready = 0;
    let terminating = 0;
    for (const f of this.served.frontends) {
      for (const b of f.backends) {
        if (b.state === 'ready') ready++;
        else terminating++;
      }
    }
    metrics.backends.set({ state: 'ready' }, ready);
    metrics.backends.set({ state: 'terminating' }, terminating);
    metrics.serviceProblems.set(new Set(desired.problems.map((p) => p.service)).size);
    metrics.advertisedPrefixes.set(this.advertisements.length);
    const t5 = mark();
    const durationMs = t5 - started;
    const ms = (x: number): number => Math.round(x * 10) / 10;
    this.lastPass = {
      at: new Date().toISOString(),
      durationMs,
      ok: errors.length === 0,
      errors,
      ...(dataplaneReport ? { dataplane: dataplaneReport } : {}),
      phases: { desired: ms(t1 - t0), host: ms(t2 - t1), dataplane: ms(t3 - t2), announcer: ms(t4 - t3), bookkeeping: ms(t5 - t4 + (t0 - started)) },
    };
    metrics.reconcileDuration.observe(durationMs / 1000);

    if (errors.length > 0) {
      for (const e of errors) log.error(e);
      this.schedule(this.deps.retryMs ?? 2000);
    } else if (dataplaneReport?.changed === true) {
      log.info(
        {
          frontends: this.served.frontends.length,
          written: dataplaneReport.frontendsWritten,
          removed: dataplaneReport.frontendsRemoved,
          ms: ms(durationMs),
          phases: this.lastPass.phases,
        },
        'dataplane updated',
      );
    }
  }
}

/** True when both lists hold the same frontend keys in the same order. */
function sameKeys(a: readonly Frontend[] | undefined, b: readonly Frontend[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && a[i]!.key !== b[i]!.key) return false;
  return true;
}

