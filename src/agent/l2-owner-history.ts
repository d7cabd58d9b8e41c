// Who has owned each L2 VIP since when, and why, as this node sees it: what `vipgate l2 status`
// shows and what ownership-change logs, metrics and Events are made from. Pure.
import { liveNodes, type L2View, type VipOwner } from '../l2/eligibility.ts';
import { formatIp } from '../net/index.ts';

export interface Held {
  readonly owner: string | undefined;
  readonly sinceMs: number;
  readonly why: string;
}

export interface OwnerChange {
  readonly vip: string;
  readonly interface: string;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly why: string;
}

export const heldKey = (vip: string, ifname: string): string => `${vip}%${ifname}`;

/** Why `o.owner` owns the VIP, given who owned it before. */
export function ownerReason(o: VipOwner, previous: string | undefined, view: L2View): string {
  if (o.owner === undefined) return 'no live node can serve it';
  const live = o.ranked.join(', ');
  if (previous !== undefined && previous !== o.owner && !o.ranked.includes(previous)) return `${previous} is down or cannot serve it; highest rank among ${live}`;
  if (liveNodes(view).recent.includes(o.owner)) return `fills a gap: no node up for the hold-down can serve it (${live})`;
  return `highest rank among ${live}`;
}

export class OwnerHistory {
  readonly #held = new Map<string, Held>(); // "vip%interface" → who owns it, since when, why
  /** Owner changes seen since the start (a VIP's first owner is not a change). */
  changes = 0;

  get(vip: string, ifname: string): Held | undefined {
    return this.#held.get(heldKey(vip, ifname));
  }

  /** Takes the owners of one evaluation; returns the VIPs whose owner changed (VIPs gone are forgotten). */
  update(current: readonly VipOwner[], view: L2View): OwnerChange[] {
    const seen = new Set<string>();
    const changed: OwnerChange[] = [];
    for (const o of current) {
      const vip = formatIp(o.vip);
      const key = heldKey(vip, o.interface);
      seen.add(key);
      const before = this.#held.get(key);
      if (before !== undefined && before.owner === o.owner) {
        // The owner's hold-down ended: it no longer only fills a gap.
        if (before.why.startsWith('fills a gap') && !ownerReason(o, o.owner, view).startsWith('fills a gap')) {
          this.#held.set(key, { ...before, why: `highest rank among ${o.ranked.join(', ')}` });
        }
        continue;
      }
      const why = ownerReason(o, before?.owner, view);
      this.#held.set(key, { owner: o.owner, sinceMs: view.nowMs, why });
      if (before === undefined) continue;
      this.changes++;
      changed.push({ vip, interface: o.interface, from: before.owner, to: o.owner, why });
    }
    for (const key of this.#held.keys()) if (!seen.has(key)) this.#held.delete(key);
    return changed;
  }
}
