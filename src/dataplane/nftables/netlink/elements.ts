// The element layouts of the table's sets, shared by the encoder (encode.ts: text → bytes) and
// the decoder (decode.ts: bytes → text). The text is exactly what diff.ts writes and nft lists.
// Every key field of a concatenation is padded to 4 bytes (NFT_REG32_SIZE); addresses and
// ports are big-endian, `meta l4proto` is one byte, and the numgen slot is a 32-bit integer in
// *host* byte order (numgen stores a u32 register; seen in `nft --debug=netlink`: slot 3 is
// `03 00 00 00` on x86). Pure: no I/O.
import type { Family } from '../../../net/index.ts';
import type { SetName } from '../render.ts';
import { VerdictCode } from './constants.ts';

export type FieldKind = 'ipv4' | 'ipv6' | 'proto' | 'port' | 'slot';

/**
 * How a set stores its elements. `hash`: one exact key. `ranges` (concatenation + `flags
 * interval`, the kernel's pipapo): one element with KEY and KEY_END, here only the last field a
 * prefix. `intervals` (one address + `flags interval`, the rbtree): a start element and an end
 * element (the first address after the prefix) flagged INTERVAL_END.
 */
export type SetShape = 'hash' | 'ranges' | 'intervals';

export interface SetLayout {
  readonly key: readonly FieldKind[];
  readonly shape: SetShape;
  readonly data: 'none' | 'verdict' | readonly FieldKind[];
  /** Declared with `counter`: the kernel gives each new element its own counter. */
  readonly counter: boolean;
}

const ADDR = { 4: 'ipv4', 6: 'ipv6' } as const satisfies Record<Family, FieldKind>;

/** The element layout of every set of the table; mirrors SET_DECLARATIONS (layout.ts). */
export const SET_LAYOUTS: Readonly<Record<SetName, SetLayout>> = (() => {
  const out = {} as Record<SetName, SetLayout>;
  for (const f of [4, 6] as const) {
    const vip: FieldKind[] = [ADDR[f], 'proto', 'port'];
    out[`frontends${f}`] = { key: vip, shape: 'hash', data: 'verdict', counter: false };
    for (const p of ['tcp', 'udp'] as const) {
      out[`backends${f}${p}`] = { key: [...vip, 'slot'], shape: 'hash', data: [ADDR[f], 'port'], counter: false };
    }
    out[`counters${f}`] = { key: vip, shape: 'hash', data: 'none', counter: true };
    for (const s of ['masq', 'closed', 'restricted'] as const) out[`${s}${f}`] = { key: vip, shape: 'hash', data: 'none', counter: false };
    out[`allow${f}`] = { key: [...vip, ADDR[f]], shape: 'ranges', data: 'none', counter: false };
    out[`deny${f}`] = { key: [ADDR[f]], shape: 'intervals', data: 'none', counter: false };
  }
  return out;
})();

export interface Verdict {
  readonly code: number;
  readonly chain?: string;
}

/** One element as the kernel sees it. */
export interface WireElement {
  readonly key: Uint8Array;
  readonly keyEnd?: Uint8Array;
  /** NFTA_SET_ELEM_FLAGS; 0 is not sent. */
  readonly flags: number;
  readonly data?: Uint8Array;
  readonly verdict?: Verdict;
  readonly userdata?: Uint8Array;
  /** Index of the text element this came from (an interval is two wire elements). */
  readonly source: number;
}

/** One element from a dump (the same fields, no source), with its counter when the set has them. */
export interface DumpedElement extends Omit<WireElement, 'source'> {
  readonly counter?: { readonly packets: bigint; readonly bytes: bigint };
}

export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = { tcp: 6, udp: 17 };
export const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp' };

export const FIELD_ALLOWED: Readonly<Record<FieldKind, string>> = {
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  proto: 'tcp, udp or a protocol number 0-255',
  port: 'a port 0-65535',
  slot: 'a slot number 0-4294967295',
};

export const fieldSize = (kind: FieldKind): number => (kind === 'ipv6' ? 16 : 4);
export const concatSize = (kinds: readonly FieldKind[]): number => kinds.reduce((n, k) => n + fieldSize(k), 0);

/** Verdicts without a chain, as nft writes them. */
export const VERDICT_WORDS = new Map<string, number>([
  ['accept', VerdictCode.accept],
  ['drop', VerdictCode.drop],
  ['continue', VerdictCode.continue],
  ['return', VerdictCode.return],
]);
