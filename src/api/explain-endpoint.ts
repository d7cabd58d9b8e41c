// `/v1/explain?target=…&sample=…`: gathers the snapshot `explain` walks — the agent's status, the
// target's frontends read back from the kernel, their counters twice, the BGP speaker, L2.
import type { SentRoute } from '../bgp/index.ts';
import type { Frontend } from '../model/index.ts';
import { explain, parseTarget, type ExplainSnapshot, type Explanation } from './explain.ts';
import type { ApiDeps } from './server.ts';

/** Longest counter sample a caller may ask for: the request waits that long. */
export const MAX_SAMPLE_MS = 5000;
export const DEFAULT_SAMPLE_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The answer to one explain request: 200 and an Explanation, or 400 and why. */
export async function explainRequest(deps: ApiDeps, vipRoutes: () => readonly string[], query: URLSearchParams): Promise<{ status: number; body: Explanation | { error: string } }> {
  const target = parseTarget(query.get('target') ?? '');
  if ('error' in target) return { status: 400, body: { error: target.error } };
  const sampleText = query.get('sample') ?? String(DEFAULT_SAMPLE_MS);
  const sampleMs = Number(sampleText);
  if (!Number.isInteger(sampleMs) || sampleMs < 0 || sampleMs > MAX_SAMPLE_MS) return { status: 400, body: { error: `sample=${sampleText}: milliseconds, an integer 0–${MAX_SAMPLE_MS}` } };

  const status = deps.status();
  // The frontends the walk will look at; a superset is harmless (the walk picks its own).
  const mine = status.table.frontends.filter((f) =>
    target.kind === 'service' ? f.service === target.key : f.address === target.address && (target.port === undefined || f.port === target.port));
  const snapshot = await gatherSnapshot(deps, vipRoutes, mine, sampleMs);
  return { status: 200, body: explain(target, snapshot) };
}

/**
 * The snapshot `explain` walks: `frontends` read back from the kernel (and their counters
 * sampled over `sampleMs`, when above 0), then the agent's status, drain, BGP and L2 views.
 */
export async function gatherSnapshot(deps: ApiDeps, vipRoutes: () => readonly string[], frontends: readonly Frontend[], sampleMs: number): Promise<ExplainSnapshot> {
  const before = sampleMs > 0 ? await deps.counters() : undefined;
  const readBack = deps.explain?.readBack === undefined || frontends.length === 0 ? undefined : await deps.explain.readBack(frontends);
  if (sampleMs > 0) await sleep(sampleMs);
  const after = sampleMs > 0 ? await deps.counters() : undefined;
  const bgp = deps.bgp?.();
  const l2 = deps.l2?.();
  return {
    node: deps.explain?.node ?? 'this node',
    // Taken after the sample: the latest pass, and a drain that moved meanwhile, count.
    status: deps.status(),
    leftOut: deps.leftOut?.() ?? [],
    ...(deps.drain === undefined ? {} : { drain: deps.drain.status() }),
    ...(readBack === undefined ? {} : { readBack }),
    ...(before === undefined || after === undefined ? {} : { traffic: { before, after, ms: sampleMs } }),
    ...(bgp === undefined ? {} : { bgp: { peers: bgp.peers(), sent: new Map<string, readonly SentRoute[]>(bgp.peers().map((p) => [p.address, bgp.routesSentTo(p.address)])) } }),
    ...(l2 === undefined ? {} : { l2 }),
    routes: { prefixes: vipRoutes(), via: await deps.nodeAddresses() },
  };
}
