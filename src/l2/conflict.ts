// What a node does when another MAC claims a VIP it owns (docs/design/017, "Never two owners").
// The claim comes from a node whose liveness view differs from ours (BFD lost between us while we
// share the segment), from a peer that has not seen us yet, or from a device that is not an LB
// node at all. Pure: the agent tells which node, if any, the MAC belongs to.
import type { IpAddress } from '../net/index.ts';
import { rendezvousWeight } from './ownership.ts';

export type ConflictSettlement =
  /** The claimant ranks higher for this VIP: stop answering now and probe again (the responder takes the VIP back when nobody answers the probe). */
  | { readonly action: 'yield'; readonly reason: string }
  /** We rank higher: keep it, and announce again so that clients that followed the claimant come back. */
  | { readonly action: 'reannounce'; readonly reason: string }
  /** Not an LB node we know: keep answering (yielding would let any host on the segment take a VIP) and warn. */
  | { readonly action: 'keep'; readonly reason: string };

/**
 * Settles a claim on `vip` by `claimant` (a peer's node name, or undefined when the MAC is no
 * known peer's). Both nodes run this with the names swapped and reach opposite actions, so
 * exactly one keeps the VIP whatever their liveness views say.
 */
export function settleConflict(vip: IpAddress, self: string, claimant: string | undefined): ConflictSettlement {
  if (claimant === undefined) return { action: 'keep', reason: 'claimed by a MAC that is no known LB node (an address conflict on the segment?)' };
  if (claimant === self) return { action: 'keep', reason: 'claimed by this node on another interface' };
  const ours = rendezvousWeight(vip, self);
  const theirs = rendezvousWeight(vip, claimant);
  const claimantFirst = theirs > ours || (theirs === ours && claimant < self);
  return claimantFirst
    ? { action: 'yield', reason: `${claimant} ranks higher for it and claims it too` }
    : { action: 'reannounce', reason: `${claimant} claims it, but this node ranks higher` };
}
