// What the root namespace looks like, reduced to what the lab must never change: link names,
// addresses and routes (lifetimes and counters left out, they move by themselves).
import { execFileSync } from 'node:child_process';

interface Json {
  [key: string]: unknown;
}

function ipJson(args: string[]): Json[] {
  return JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }) || '[]') as Json[];
}

export interface RootSnapshot {
  readonly links: readonly string[];
  readonly addresses: readonly string[];
  readonly routes: readonly string[];
}

export function rootSnapshot(): RootSnapshot {
  const links = ipJson(['link', 'show']).map((l) => String(l['ifname']));
  const addresses = ipJson(['addr', 'show']).flatMap((l) =>
    ((l['addr_info'] ?? []) as Json[]).map((a) => `${String(l['ifname'])} ${String(a['local'])}/${String(a['prefixlen'])}`),
  );
  const routes = [...ipJson(['route', 'show', 'table', 'all']), ...ipJson(['-6', 'route', 'show', 'table', 'all'])].map((r) =>
    [r['table'], r['type'], r['dst'], r['gateway'], r['dev'], r['protocol']].map((v) => JSON.stringify(v ?? '')).join(' '),
  );
  return { links: links.sort(), addresses: addresses.sort(), routes: routes.sort() };
}
