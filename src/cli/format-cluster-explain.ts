// `vipgate explain --kubeconfig`: the cluster walk (controller/cluster-explain.ts) as text.
import type { ClusterExplanation, ClusterLink } from '../controller/cluster-explain.ts';

const MARK: Record<ClusterLink['state'], string> = { ok: 'ok', broken: 'BROKEN', unknown: '?' };

function chain(title: string, links: readonly ClusterLink[], width: number): string[] {
  const lines = [`${title}:`];
  for (const l of links) {
    lines.push(`  ${MARK[l.state].padEnd(6)}  ${l.link.padEnd(width)}  ${l.says}`);
    if (l.fix !== undefined) lines.push(`  ${''.padEnd(6)}  ${''.padEnd(width)}  fix: ${l.fix}`);
  }
  return lines;
}

/** Where the first broken link is (the cluster's, else the first node's that does not serve). */
function firstBroken(e: ClusterExplanation): { where: string; link: ClusterLink } | undefined {
  const c = e.cluster.find((l) => l.state === 'broken');
  if (c !== undefined) return { where: e.service ?? e.target, link: c };
  for (const n of e.nodes) {
    const l = n.links.find((x) => x.state === 'broken');
    if (l !== undefined) return { where: n.node, link: l };
  }
  return undefined;
}

/** One line when served; otherwise the first broken link and its fix, then every chain and vipgate's Events on the Service. */
export function formatClusterExplain(e: ClusterExplanation): string {
  const vips = e.vips.length === 0 ? '' : ` (${e.vips.join(', ')})`;
  if (e.served && e.nodes.every((n) => n.served)) return `${e.target} is served by ${e.servedBy.join(', ')}${e.service === e.target ? '' : `: ${e.service ?? ''}`}${vips}\n`;
  const head: string[] = [];
  const first = firstBroken(e);
  const by = e.servedBy.length > 0 ? ` (served by ${e.servedBy.join(', ')})` : '';
  if (first === undefined) head.push(`${e.target}${vips} is not known to be served: no fresh LB node report covers it (see the ? links)`);
  else {
    head.push(`${e.target}${vips} is ${e.served ? 'served, but not everywhere' : 'not served'}${by}: ${first.where}: ${first.link.link}: ${first.link.says}`);
    if (first.link.fix !== undefined) head.push(`  fix: ${first.link.fix}`);
  }
  const width = Math.max(...[...e.cluster, ...e.nodes.flatMap((n) => n.links)].map((l) => l.link.length));
  const body = [...chain('cluster', e.cluster, width), ...e.nodes.flatMap((n) => chain(n.node, n.links, width))];
  const events = e.events.map((x) => `  ${x.at}  ${x.type.padEnd(7)}  ${x.reason}: ${x.message}`);
  return `${head.join('\n')}\n\n${body.join('\n')}\n${events.length === 0 ? '' : `\nevents (newest first):\n${events.join('\n')}\n`}`;
}
