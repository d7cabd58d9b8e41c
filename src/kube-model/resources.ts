import { Allocator, IpamError, selectorProblem } from '../ipam/index.ts';
import type { LabelSelector, Pool } from '../model/index.ts';
import { KubeError, KubeErrorCode } from '../kube/errors.ts';
import type { KubeVipPool } from '../kube/objects.ts';

const SPEC_FIELDS = ['addresses', 'autoAssign', 'avoidBuggyIPs', 'allowExternalIPs', 'namespaces', 'serviceSelector', 'priority', 'reserved'] as const;

function bad(name: string, field: string, message: string): KubeError {
  return new KubeError(KubeErrorCode.badResource, `VIPPool ${name}: spec.${field} ${message}`, { field: `spec.${field}` });
}

function strings(name: string, spec: Readonly<Record<string, unknown>>, field: string): string[] {
  const v = spec[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(name, field, `must be a list of strings, got ${JSON.stringify(v)}`);
  return v as string[];
}

function flag(name: string, spec: Readonly<Record<string, unknown>>, field: string, fallback: boolean): boolean {
  const v = spec[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw bad(name, field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * A VIPPool custom resource as the IPAM `Pool` (defaults as in deploy/crds: autoAssign true, the
 * rest off or empty). Throws KubeError (KUBE_BAD_RESOURCE) naming the field; the CRD schema
 * should make that impossible, but the API server is not the only writer we trust less than
 * ourselves.
 */
export function poolFromResource(resource: KubeVipPool): Pool {
  const name = resource.metadata?.name ?? '';
  if (name === '') throw new KubeError(KubeErrorCode.badResource, 'a VIPPool has no metadata.name', { field: 'metadata.name' });
  const spec = resource.spec ?? {};
  for (const key of Object.keys(spec)) {
    if (!(SPEC_FIELDS as readonly string[]).includes(key)) throw bad(name, key, `is not a VIPPool field; allowed: ${SPEC_FIELDS.join(', ')}`);
  }
  const addresses = strings(name, spec, 'addresses');
  if (addresses.length === 0) throw bad(name, 'addresses', 'must list at least one CIDR or range');
  const priority = spec['priority'] ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority)) throw bad(name, 'priority', `must be an integer, got ${JSON.stringify(priority)}`);
  const selector = spec['serviceSelector'];
  let serviceSelector: LabelSelector | undefined;
  if (selector !== undefined && selector !== null) {
    const problem = selectorProblem(selector);
    if (problem !== undefined) throw bad(name, 'serviceSelector', problem);
    // {} selects every Service, like no selector: kept out so both read the same everywhere.
    const s = selector as LabelSelector;
    if (Object.keys(s.matchLabels ?? {}).length > 0 || (s.matchExpressions ?? []).length > 0) serviceSelector = s;
  }
  return {
    name,
    addresses,
    autoAssign: flag(name, spec, 'autoAssign', true),
    avoidBuggyIPs: flag(name, spec, 'avoidBuggyIPs', false),
    allowExternalIPs: flag(name, spec, 'allowExternalIPs', false),
    namespaces: strings(name, spec, 'namespaces'),
    reserved: strings(name, spec, 'reserved'),
    priority,
    ...(serviceSelector === undefined ? {} : { serviceSelector }),
  };
}

export interface PoolProblem {
  readonly pool: string;
  readonly message: string;
}

/**
 * Every usable pool, in name order, and why the others are left out: a malformed pool, or one
 * that overlaps a pool accepted before it (by name), never takes the valid ones down with it.
 */
export function poolsFromResources(resources: readonly KubeVipPool[]): { pools: Pool[]; problems: PoolProblem[] } {
  const sorted = [...resources].sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
  const pools: Pool[] = [];
  const problems: PoolProblem[] = [];
  for (const resource of sorted) {
    try {
      const pool = poolFromResource(resource);
      new Allocator([...pools, pool]); // throws on a bad CIDR/range or an overlap
      pools.push(pool);
    } catch (error) {
      if (!(error instanceof KubeError) && !(error instanceof IpamError)) throw error;
      problems.push({ pool: resource.metadata?.name ?? '', message: error.message });
    }
  }
  return { pools, problems };
}
