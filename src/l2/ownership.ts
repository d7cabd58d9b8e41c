// Which LB node answers for a VIP: rendezvous (highest-random-weight) hashing over the nodes that
// are eligible for it (docs/design/017). Every node runs the same function on the same inputs, so
// they agree without talking; a node leaving or returning moves only the VIPs it ranks first for.
import { createHash } from 'node:crypto';
import { formatIp, type IpAddress } from '../net/index.ts';
import { L2Error, L2ErrorCode } from './errors.ts';

/**
 * The weight of `node` for `vip`: the first 8 bytes of SHA-256("<vip>\n<node>") as an unsigned
 * integer. Fixed by this note, not by a library's choice, because nodes running different vipgate
 * versions during a rollout must rank alike.
 */
export function rendezvousWeight(vip: IpAddress, node: string): bigint {
  const digest = createHash('sha256').update(`${formatIp(vip)}\n${node}`).digest();
  return digest.readBigUInt64BE(0);
}

/** `nodes` from the first choice for `vip` to the last (equal weights, never seen in practice, by name). */
export function rankNodes(vip: IpAddress, nodes: readonly string[]): string[] {
  if (new Set(nodes).size !== nodes.length) throw new L2Error(L2ErrorCode.badNodes, `node names must be unique: ${nodes.join(', ')}`);
  return nodes
    .map((node) => ({ node, weight: rendezvousWeight(vip, node) }))
    .sort((a, b) => (a.weight === b.weight ? (a.node < b.node ? -1 : 1) : a.weight > b.weight ? -1 : 1))
    .map(({ node }) => node);
}

/** The owner of `vip` among the eligible nodes, or undefined when none is eligible (then nobody answers). */
export function ownerOf(vip: IpAddress, eligible: readonly string[]): string | undefined {
  return rankNodes(vip, eligible)[0];
}
