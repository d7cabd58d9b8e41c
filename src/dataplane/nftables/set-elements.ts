// Set elements as structures: what diff.ts produces for every element change, and what both
// ways to the kernel take — the nft text renderer here (`elementText`) and the nfnetlink encoder
// (netlink/encode.ts), which writes the bytes from the parsed values, never from the text. Every
// value carries the text it renders to, made once when the frontend was rendered (or read
// back), so that comparing renderings and writing nft text cost no formatting. Pure.
import type { Protocol } from '../../model/index.ts';
import { formatCidr, type Cidr, type IpAddress } from '../../net/index.ts';

/** A frontend's key in every per-frontend set: `10.200.0.5 . tcp . 80`. */
export interface VipKey {
  readonly address: IpAddress;
  readonly protocol: Protocol;
  readonly port: number;
  /** `address . protocol . port`, as nft lists it. */
  readonly text: string;
}

/** A backend a slot points at: `10.100.1.41 . 8080`. */
export interface Slot {
  readonly address: IpAddress;
  readonly port: number;
  /** `address . port`, as nft lists it. */
  readonly text: string;
}

/** A prefix of an interval set: `192.168.0.0/16`, a host bare (`10.1.2.3`). */
export interface Prefix {
  /**
   * Undefined only when read back from an element that is no prefix (a range written by hand):
   * known by its text alone. nft text can still delete it; the netlink encoder refuses it, and
   * the dataplane then replaces the table whole.
   */
  readonly cidr: Cidr | undefined;
  /** As nft lists an interval-set element (`cidrElement`). */
  readonly text: string;
}

/**
 * One element of one set, by the set's shape (netlink/elements.ts SET_LAYOUTS): `vip` in
 * counters, masq, closed and restricted; `frontend` in frontends4/6 (the verdict, a goto to a
 * pick chain, only when added); `slot` in the backends maps (the backend only when added);
 * `source` in allow4/6; `prefix` in deny4/6.
 */
export type SetElement =
  | { readonly kind: 'vip'; readonly vip: VipKey }
  | { readonly kind: 'frontend'; readonly vip: VipKey; readonly goto?: string }
  | { readonly kind: 'slot'; readonly vip: VipKey; readonly slot: number; readonly backend?: Slot }
  | { readonly kind: 'source'; readonly vip: VipKey; readonly source: Prefix }
  | { readonly kind: 'prefix'; readonly prefix: Prefix };

/** A prefix as nft lists an interval-set element: host prefixes without "/32" or "/128". */
export function cidrElement(cidr: Cidr): string {
  const text = formatCidr(cidr);
  return cidr.prefixLength === (cidr.family === 4 ? 32 : 128) ? text.slice(0, text.indexOf('/')) : text;
}

export const prefixOf = (cidr: Cidr): Prefix => ({ cidr, text: cidrElement(cidr) });

/** The element as nft text (what `add element … { … }` takes and `list set` prints). */
export function elementText(e: SetElement): string {
  switch (e.kind) {
    case 'vip':
      return e.vip.text;
    case 'frontend':
      return e.goto === undefined ? e.vip.text : `${e.vip.text} : goto ${e.goto}`;
    case 'slot':
      // join, not a template: V8 keeps a concatenation as a tree of cons strings.
      return e.backend === undefined ? [e.vip.text, e.slot].join(' . ') : [e.vip.text, ' . ', e.slot, ' : ', e.backend.text].join('');
    case 'source':
      return [e.vip.text, e.source.text].join(' . ');
    case 'prefix':
      return e.prefix.text;
  }
}
