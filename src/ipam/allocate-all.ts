import type { Pool } from '../model/index.ts';
import { tryParseIp } from '../net/index.ts';
import { Allocator } from './allocator.ts';
import { IpamError, IpamErrorCode } from './errors.ts';
import type { AllocationRequest, AllocationResult } from './request.ts';

function byService(a: AllocationRequest, b: AllocationRequest): number {
  return a.service < b.service ? -1 : a.service > b.service ? 1 : 0;
}

/**
 * Assigns addresses to every request at once: what a controller does after a restart, and
 * what `vipgate` does with the standalone file. Pure and deterministic: the same pools,
 * requests and `previous` give the same result whatever order the requests come in.
 *
 * First every address in `previous` that is still valid for its Service is kept (services in
 * key order; if two claim one address that they cannot share, the first key keeps it); then
 * the missing addresses are allocated, again in key order. So an address in use never moves
 * unless its Service's request no longer allows it (another pool or address requested, the
 * pool removed or shrunk, the address reserved since).
 *
 * Throws IpamError only for bad pools (a configuration error, not a per-Service one).
 */
export function allocateAll(
  pools: readonly Pool[],
  requests: Iterable<AllocationRequest>,
  previous: ReadonlyMap<string, readonly string[]>,
): Map<string, AllocationResult> {
  const allocator = new Allocator(pools);
  const sorted = [...requests].sort(byService);
  const results = new Map<string, AllocationResult>();
  const unique: AllocationRequest[] = [];
  for (const [i, request] of sorted.entries()) {
    const twice = sorted[i - 1]?.service === request.service || sorted[i + 1]?.service === request.service;
    if (!twice) {
      unique.push(request);
      continue;
    }
    // Which of two requests for one key wins would depend on input order: refuse both.
    const error = new IpamError(IpamErrorCode.badRequest, `service ${request.service} is requested more than once; service keys must be unique`, { field: 'service' });
    results.set(request.service, { ok: false, error });
  }
  for (const request of unique) {
    const before = previous.get(request.service) ?? [];
    // The usual case after a restart: everything is still valid, and one call records it.
    if (before.length === 0 || allocator.restore(request, before).ok) continue;
    const kept: string[] = [];
    for (const text of before) {
      // One by one: an address that became invalid must not cost the Service the others.
      const family = tryParseIp(text)?.family;
      if (family === undefined || kept.some((k) => tryParseIp(k)?.family === family)) continue;
      if (allocator.restore(request, [...kept, text]).ok) kept.push(text);
    }
  }
  for (const request of unique) results.set(request.service, allocator.allocate(request));
  return new Map([...results].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
