// The kernel's bytes → element text as nft lists it (see elements.ts for the layouts). Pure.
import { ADDRESS_BITS, cidrOf, cidrToRange, formatIp, formatRange, ipFromBytes, maxValue, type Family } from '../../../net/index.ts';
import { cidrElement, type SetName } from '../render.ts';
import { HOST_LE } from './attrs.ts';
import { NFTNL_SET_ELEM_F_INTERVAL_OPEN, NFTNL_UDATA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END, VerdictCode } from './constants.ts';
import { PROTOCOL_NAMES, SET_LAYOUTS, VERDICT_WORDS, fieldSize, type DumpedElement, type FieldKind, type SetLayout, type Verdict } from './elements.ts';

function isOpen(userdata: Uint8Array | undefined): boolean {
  // A TLV list (type u8, length u8, value); only the flags entry matters here.
  for (let at = 0; userdata !== undefined && at + 2 <= userdata.length; at += 2 + userdata[at + 1]!) {
    if (userdata[at] === NFTNL_UDATA_SET_ELEM_FLAGS && userdata[at + 1] === 4 && at + 6 <= userdata.length) {
      return (new DataView(userdata.buffer, userdata.byteOffset + at + 2, 4).getUint32(0, HOST_LE) & NFTNL_SET_ELEM_F_INTERVAL_OPEN) !== 0;
    }
  }
  return false;
}

function formatVerdict(v: Verdict): string {
  if (v.code === VerdictCode.goto) return `goto ${v.chain ?? ''}`;
  if (v.code === VerdictCode.jump) return `jump ${v.chain ?? ''}`;
  for (const [word, code] of VERDICT_WORDS) if (code === v.code) return word;
  return `verdict ${v.code}`;
}

/** Thrown when dumped bytes don't fit the set's layout (another program's set of that name). */
export class LayoutMismatch extends Error {
  override readonly name = 'LayoutMismatch';
}

/** Decoder state for one dump: formatted addresses are reused. */
export class ElementDecoder {
  private readonly v4 = new Map<number, string>();
  private readonly v6 = new Map<string, string>();

  private address(b: Uint8Array, at: number, kind: 'ipv4' | 'ipv6'): string {
    if (kind === 'ipv4') {
      const n = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
      let text = this.v4.get(n);
      if (text === undefined) {
        text = formatIp({ family: 4, value: BigInt(n) });
        this.v4.set(n, text);
      }
      return text;
    }
    const hex = Buffer.from(b.buffer, b.byteOffset + at, 16).toString('hex');
    let text = this.v6.get(hex);
    if (text === undefined) {
      text = formatIp(ipFromBytes(b.subarray(at, at + 16)));
      this.v6.set(hex, text);
    }
    return text;
  }

  private field(kind: FieldKind, b: Uint8Array, at: number): string {
    switch (kind) {
      case 'ipv4':
      case 'ipv6':
        return this.address(b, at, kind);
      case 'proto':
        return PROTOCOL_NAMES[b[at]!] ?? String(b[at]);
      case 'port':
        return String((b[at]! << 8) | b[at + 1]!);
      case 'slot':
        return String(HOST_LE ? (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0 : ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0);
    }
  }

  private concat(set: SetName, kinds: readonly FieldKind[], b: Uint8Array, what: string): string[] {
    const size = kinds.reduce((n, k) => n + fieldSize(k), 0);
    if (b.length !== size) throw new LayoutMismatch(`an element ${what} of ${set} has ${b.length} bytes; this layout's has ${size}`);
    const out: string[] = [];
    let at = 0;
    for (const kind of kinds) {
      out.push(this.field(kind, b, at));
      at += fieldSize(kind);
    }
    return out;
  }

  /** One field range [a, b] as nft lists it: a value, a prefix, or "a-b". */
  private span(kind: FieldKind, a: string, aBytes: Uint8Array, bText: string, bBytes: Uint8Array): string {
    if (a === bText) return a;
    if (kind === 'ipv4' || kind === 'ipv6') return rangeText(ipFromBytes(aBytes).value, ipFromBytes(bBytes).value, kind === 'ipv4' ? 4 : 6);
    return `${a}-${bText}`;
  }

  /** The texts of a set's elements; for interval sets the start/end pairs become prefixes. */
  decode(set: SetName, elements: readonly DumpedElement[]): string[] {
    const layout = SET_LAYOUTS[set];
    if (layout.shape === 'intervals') return this.intervals(set, elements, layout.key[0] === 'ipv4' ? 4 : 6);
    return elements.map((e) => this.one(set, layout, e));
  }

  one(set: SetName, layout: SetLayout, e: DumpedElement): string {
    const fields = this.concat(set, layout.key, e.key, 'key');
    let key: string;
    if (layout.shape === 'ranges') {
      if (e.keyEnd === undefined) throw new LayoutMismatch(`an element of ${set} has no key end`);
      const ends = this.concat(set, layout.key, e.keyEnd, 'key end');
      let at = 0;
      key = layout.key
        .map((kind, i) => {
          const text = this.span(kind, fields[i]!, e.key.subarray(at, at + fieldSize(kind)), ends[i]!, e.keyEnd!.subarray(at, at + fieldSize(kind)));
          at += fieldSize(kind);
          return text;
        })
        .join(' . ');
    } else {
      key = fields.join(' . ');
    }
    if (layout.data === 'none') return key;
    if (layout.data === 'verdict') {
      if (e.verdict === undefined) throw new LayoutMismatch(`an element of the verdict map ${set} has no verdict`);
      return `${key} : ${formatVerdict(e.verdict)}`;
    }
    if (e.data === undefined) throw new LayoutMismatch(`an element of the map ${set} has no value`);
    return `${key} : ${this.concat(set, layout.data, e.data, 'value').join(' . ')}`;
  }

  private intervals(set: SetName, elements: readonly DumpedElement[], family: Family): string[] {
    const size = family === 4 ? 4 : 16;
    const items = elements.map((e) => {
      if (e.key.length !== size) throw new LayoutMismatch(`an element key of ${set} has ${e.key.length} bytes; this layout's has ${size}`);
      return { value: ipFromBytes(e.key).value, end: (e.flags & NFT_SET_ELEM_INTERVAL_END) !== 0, open: isOpen(e.userdata) };
    });
    // Ends before starts at one address: an end closes the interval below it.
    items.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.end === b.end ? 0 : a.end ? -1 : 1));
    const out: string[] = [];
    let start: bigint | undefined;
    for (const item of items) {
      if (item.end) {
        // An end with no start below it is nft's leading end element at zero: not a range.
        if (start !== undefined) out.push(rangeText(start, item.value - 1n, family));
        start = undefined;
      } else {
        if (start !== undefined) out.push(rangeText(start, item.value - 1n, family));
        start = item.value;
        if (item.open) {
          out.push(rangeText(start, maxValue(family), family));
          start = undefined;
        }
      }
    }
    if (start !== undefined) out.push(rangeText(start, maxValue(family), family));
    return out;
  }
}

/** [first, last] as nft lists it: a bare address, a prefix, or "first-last". */
function rangeText(first: bigint, last: bigint, family: Family): string {
  const bits = ADDRESS_BITS[family];
  for (let length = bits; length >= 0; length--) {
    const cidr = cidrOf({ family, value: first }, length);
    if (cidr.network !== first) break;
    const r = cidrToRange(cidr);
    if (r.last === last) return cidrElement(cidr);
    if (r.last > last) break;
  }
  return formatRange({ family, first, last });
}
