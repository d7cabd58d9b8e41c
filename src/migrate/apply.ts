/**
 * `vipgate migrate external-ips --apply`: the plan, carried out through the API one Service at
 * a time. Each patch carries the resourceVersion the plan was made from, so a Service changed
 * since is re-read and planned again instead of overwritten; one Service failing does not stop
 * the others. Running it twice changes nothing the second time: a migrated Service has no
 * externalIPs left, so it is not in the plan.
 */
import type { MigrateStep, MigrationOptions } from './plan.ts';
import { planExternalIPsMigration } from './plan.ts';
import type { MigratableService } from './service.ts';

/** A Service as the API returns it (name optional in the client library's model). */
export interface ApiService {
  readonly metadata?: Partial<MigratableService['metadata']>;
  readonly spec?: MigratableService['spec'];
}

/** What --apply needs of the API; `KubeClients` (src/kube) has exactly these. */
export interface MigrationApi {
  listServices(): Promise<readonly ApiService[]>;
  readService(namespace: string, name: string): Promise<ApiService>;
  /** A JSON merge patch (RFC 7386); its `metadata.resourceVersion` is a precondition (409 when stale). */
  patchService(namespace: string, name: string, patch: object): Promise<unknown>;
}

export type ApplyOutcome =
  | { readonly result: 'migrated'; readonly namespace: string; readonly name: string; readonly step: MigrateStep; readonly attempts: number }
  | { readonly result: 'skipped'; readonly namespace: string; readonly name: string; readonly message: string }
  /** Re-read after a conflict, it no longer needs the change (someone else did it, or removed externalIPs). */
  | { readonly result: 'unchanged'; readonly namespace: string; readonly name: string; readonly message: string }
  | { readonly result: 'failed'; readonly namespace: string; readonly name: string; readonly message: string };

export interface ApplyOptions extends MigrationOptions {
  /** Patches tried per Service when each one meets a newer resourceVersion (default 3). */
  readonly attempts?: number;
  /** Called after each Service, so the command prints as it goes. */
  readonly onOutcome?: (outcome: ApplyOutcome) => void;
}

/** The HTTP status of a client-library error (its `code`), if it has one. */
function httpStatus(error: unknown): number | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** The message of an API error: the Status body's `message` when there is one. */
function describe(error: unknown): string {
  const body = typeof error === 'object' && error !== null ? (error as { body?: unknown }).body : undefined;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      // not JSON: fall through to the error's own message
    }
  }
  const message = typeof parsed === 'object' && parsed !== null ? (parsed as { message?: unknown }).message : undefined;
  if (typeof message === 'string') return message;
  return error instanceof Error ? error.message : String(error);
}

function named(svc: ApiService): MigratableService | undefined {
  const name = svc.metadata?.name;
  if (name === undefined) return undefined;
  return { metadata: { ...svc.metadata, name }, ...(svc.spec === undefined ? {} : { spec: svc.spec }) };
}

function withPrecondition(step: MigrateStep): object {
  return { ...step.patch, metadata: { ...step.patch.metadata, ...(step.resourceVersion === undefined ? {} : { resourceVersion: step.resourceVersion }) } };
}

async function applyOne(api: MigrationApi, first: MigrateStep, options: ApplyOptions): Promise<ApplyOutcome> {
  const { namespace, name } = first;
  const attempts = options.attempts ?? 3;
  let step = first;
  for (let attempt = 1; ; attempt++) {
    try {
      await api.patchService(namespace, name, withPrecondition(step));
      return { result: 'migrated', namespace, name, step, attempts: attempt };
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404) return { result: 'failed', namespace, name, message: 'deleted since it was listed' };
      if (status !== 409) return { result: 'failed', namespace, name, message: `the API refused the patch: ${describe(error)}` };
      if (attempt >= attempts) return { result: 'failed', namespace, name, message: `changed by someone else on each of ${attempts} tries; run it again` };
    }
    // 409: the Service changed since it was read. Plan again from what it is now.
    let fresh: MigratableService | undefined;
    try {
      fresh = named(await api.readService(namespace, name));
    } catch (error) {
      return { result: 'failed', namespace, name, message: httpStatus(error) === 404 ? 'deleted since it was listed' : `re-reading it failed: ${describe(error)}` };
    }
    const again = fresh === undefined ? undefined : planExternalIPsMigration([fresh], options)[0];
    if (again === undefined) return { result: 'unchanged', namespace, name, message: 'changed meanwhile and no longer has externalIPs; nothing to do' };
    if (again.action === 'skip') return { result: 'skipped', namespace, name, message: again.message };
    step = again;
  }
}

/**
 * Lists every Service, plans the migration, and patches each planned Service in turn
 * (namespace/name order). Never throws for one Service's failure: it is an outcome.
 */
export async function applyExternalIPsMigration(api: MigrationApi, options: ApplyOptions = {}): Promise<ApplyOutcome[]> {
  const services = (await api.listServices()).map(named).filter((s): s is MigratableService => s !== undefined);
  const outcomes: ApplyOutcome[] = [];
  for (const step of planExternalIPsMigration(services, options)) {
    const outcome: ApplyOutcome =
      step.action === 'skip' ? { result: 'skipped', namespace: step.namespace, name: step.name, message: step.message } : await applyOne(api, step, options);
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  }
  return outcomes;
}

/** One line (plus notes) per Service, as --apply prints it. */
export function formatApplyOutcome(o: ApplyOutcome): string {
  const who = `${o.namespace}/${o.name}`;
  if (o.result !== 'migrated') return `${o.result} ${who}: ${o.message}\n`;
  const retried = o.attempts > 1 ? ` (after ${o.attempts - 1} conflict${o.attempts > 2 ? 's' : ''}: re-read and planned again)` : '';
  const lines = [`migrated ${who}: ${o.step.fromType} with externalIPs ${o.step.addresses.join(', ')} -> type: LoadBalancer requesting ${o.step.addresses.join(', ')}${retried}`];
  for (const note of o.step.notes) lines.push(`  ${note}`);
  return `${lines.join('\n')}\n`;
}

/** The closing line: counts, and plainly "nothing changed" on a run with nothing to do. */
export function formatApplySummary(outcomes: readonly ApplyOutcome[]): string {
  const count = (r: ApplyOutcome['result']): number => outcomes.filter((o) => o.result === r).length;
  const migrated = count('migrated');
  const parts = `${migrated} migrated, ${count('skipped')} skipped, ${count('unchanged')} unchanged, ${count('failed')} failed`;
  if (migrated === 0 && count('failed') === 0) {
    const why = count('skipped') > 0 ? 'the skipped Services need a change by hand (above)' : 'no Service has externalIPs to move';
    return `# vipgate migrate external-ips --apply: nothing changed (${parts}): ${why}.\n`;
  }
  return `# vipgate migrate external-ips --apply: ${parts}.\n`;
}
