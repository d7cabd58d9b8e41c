// Set elements as text (exactly the strings diff.ts writes and nft lists) ↔ the kernel's bytes.
// Every key field of a concatenation is padded to 4 bytes (NFT_REG32_SIZE); addresses and
// ports are big-endian, `meta l4proto` is one byte, and the numgen slot is a 32-bit integer in
// *host* byte order (numgen stores a u32 register; seen in `nft --debug=netlink`: slot 3 is
// `03 00 00 00` on x86). Pure: no I/O.
import {
  ADDRESS_BITS,
  cidrOf,
  cidrToRange,
  formatIp,
  formatRange,
  ipFromBytes,
  ipToBytes,
  maxValue,
  parseCidr,
  parseIp,
  type Family,
} from '../../../net/index.ts';
import { NftError, NftErrorCode } from '../errors.ts';
import { cidrElement, type SetName } from '../render.ts';
import { HOST_LE, type NetlinkWriter } from './attrs.ts';
import {
  DataAttr,
  NFTA_LIST_ELEM,
  NFTNL_SET_ELEM_F_INTERVAL_OPEN,
  NFTNL_UDATA_SET_ELEM_FLAGS,
  NFT_SET_ELEM_INTERVAL_END,
  SetElem,
  VerdictAttr,
  VerdictCode,
} from './constants.ts';

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

/** One element from a dump, with its counter when the set has them. */
export interface DumpedElement {
  readonly key: Uint8Array;
  readonly keyEnd?: Uint8Array;
  readonly flags: number;
  readonly data?: Uint8Array;
  readonly verdict?: Verdict;
  readonly userdata?: Uint8Array;
  readonly counter?: { readonly packets: bigint; readonly bytes: bigint };
}

const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = { tcp: 6, udp: 17 };
const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp' };

const FIELD_ALLOWED: Readonly<Record<FieldKind, string>> = {
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  proto: 'tcp, udp or a protocol number 0-255',
  port: 'a port 0-65535',
  slot: 'a slot number 0-4294967295',
};

const fieldSize = (kind: FieldKind): number => (kind === 'ipv6' ? 16 : 4);
const concatSize = (kinds: readonly FieldKind[]): number => kinds.reduce((n, k) => n + fieldSize(k), 0);

/** Key text and value text of an element, checked against the set's shape and the verb. */
function splitElement(set: SetName, layout: SetLayout, verb: 'add' | 'delete', text: string): [string, string | undefined] {
  const colon = text.indexOf(' : ');
  const keyText = colon < 0 ? text : text.slice(0, colon);
  const dataText = colon < 0 ? undefined : text.slice(colon + 3);
  if (verb === 'add' && layout.data !== 'none' && dataText === undefined) throw bad(set, text, `${set} is a map: write "key : value"`);
  if (dataText !== undefined && (verb === 'delete' || layout.data === 'none')) {
    throw bad(set, text, verb === 'delete' ? 'a delete names the key only' : `${set} is a set: it takes no ": value"`);
  }
  return [keyText, dataText];
}

function bad(set: SetName, text: string, why: string): NftError {
  return new NftError(NftErrorCode.commandFailed, `element "${text}" of ${set} can't be written: ${why}; nothing was sent`);
}

const DECIMAL = /^(0|[1-9][0-9]{0,9})$/;

/** Encoder state for one batch: parsed IPv6 addresses are reused (VIPs and backends repeat). */
export class ElementEncoder {
  private readonly v6 = new Map<string, Uint8Array>();

  /** Writes one field into `out` at `at`; false when the text is not that kind of field. */
  private field(kind: FieldKind, text: string, out: Uint8Array, at: number): boolean {
    switch (kind) {
      case 'ipv4': {
        // The 32-bit value straight into place: no byte array per address (100k of them cold).
        let ip;
        try {
          ip = parseIp(text);
        } catch {
          return false;
        }
        if (ip.family !== 4) return false;
        const n = Number(ip.value);
        out[at] = n >>> 24;
        out[at + 1] = (n >>> 16) & 0xff;
        out[at + 2] = (n >>> 8) & 0xff;
        out[at + 3] = n & 0xff;
        return true;
      }
      case 'ipv6': {
        let bytes = this.v6.get(text);
        if (bytes === undefined) {
          try {
            const ip = parseIp(text);
            if (ip.family !== 6) return false;
            bytes = ipToBytes(ip);
          } catch {
            return false;
          }
          this.v6.set(text, bytes);
        }
        out.set(bytes, at);
        return true;
      }
      case 'proto': {
        const n = PROTOCOL_NUMBERS[text] ?? (DECIMAL.test(text) ? Number(text) : 256);
        if (n > 255) return false;
        out[at] = n;
        return true;
      }
      case 'port': {
        const n = DECIMAL.test(text) ? Number(text) : -1;
        if (n < 0 || n > 0xffff) return false;
        out[at] = n >> 8;
        out[at + 1] = n & 0xff;
        return true;
      }
      case 'slot': {
        const n = DECIMAL.test(text) ? Number(text) : -1;
        if (n < 0 || n > 0xffffffff) return false;
        for (let i = 0; i < 4; i++) out[at + (HOST_LE ? i : 3 - i)] = Math.floor(n / 2 ** (8 * i)) & 0xff;
        return true;
      }
    }
  }

  /** Fills the fields of `part` into out[at…]; throws naming the element when one is wrong. */
  private fieldsInto(set: SetName, text: string, kinds: readonly FieldKind[], part: string, what: string, out: Uint8Array, at: number): void {
    const tokens = part.split(' . ');
    if (tokens.length !== kinds.length) {
      throw bad(set, text, `its ${what} has ${tokens.length} field(s); ${set} takes ${kinds.map((k) => FIELD_ALLOWED[k]).join(' . ')}`);
    }
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[i]!;
      if (!this.field(kind, tokens[i]!, out, at)) throw bad(set, text, `"${tokens[i]!}" is not ${FIELD_ALLOWED[kind]}`);
      at += fieldSize(kind);
    }
  }

  private concat(set: SetName, text: string, kinds: readonly FieldKind[], part: string, what: string): Uint8Array {
    const out = new Uint8Array(concatSize(kinds));
    this.fieldsInto(set, text, kinds, part, what, out, 0);
    return out;
  }

  /**
   * The wire elements of `texts` for `verb` on `set`. A delete names the key only (and, for
   * interval sets, the same range). Throws NftError naming the first element that isn't of
   * the set's shape.
   */
  encode(set: SetName, verb: 'add' | 'delete', texts: readonly string[]): WireElement[] {
    const layout = SET_LAYOUTS[set];
    if (layout.shape === 'intervals') return this.intervals(set, verb, texts, layout.key[0] === 'ipv4' ? 4 : 6);
    const out: WireElement[] = [];
    for (let source = 0; source < texts.length; source++) {
      const text = texts[source]!;
      const [keyText, dataText] = splitElement(set, layout, verb, text);
      let element: WireElement;
      if (layout.shape === 'ranges') {
        element = { ...this.range(set, text, layout.key, keyText), flags: 0, source };
      } else {
        element = { key: this.concat(set, text, layout.key, keyText, 'key'), flags: 0, source };
      }
      if (dataText !== undefined) {
        element =
          layout.data === 'verdict'
            ? { ...element, verdict: parseVerdict(set, text, dataText) }
            : { ...element, data: this.concat(set, text, layout.data as readonly FieldKind[], dataText, 'value') };
      }
      out.push(element);
    }
    return out;
  }

  /**
   * Writes one element of a hash set or map straight into `w` as an NFTA_LIST_ELEM, the same
   * bytes as writeWireElement(encode(…)) without an object per element: a cold load writes
   * 130k of them in one batch. Interval sets go through encode().
   */
  write(w: NetlinkWriter, set: SetName, layout: SetLayout, verb: 'add' | 'delete', text: string): void {
    if (layout.shape !== 'hash') {
      for (const e of this.encode(set, verb, [text])) writeWireElement(w, e);
      return;
    }
    const [keyText, dataText] = splitElement(set, layout, verb, text);
    const nest = w.beginNest(NFTA_LIST_ELEM);
    this.valueInto(w, SetElem.KEY, set, text, layout.key, keyText, 'key');
    if (dataText !== undefined) {
      if (layout.data === 'verdict') writeVerdict(w, parseVerdict(set, text, dataText));
      else this.valueInto(w, SetElem.DATA, set, text, layout.data as readonly FieldKind[], dataText, 'value');
    }
    w.endNest(nest);
  }

  private valueInto(w: NetlinkWriter, type: number, set: SetName, text: string, kinds: readonly FieldKind[], part: string, what: string): void {
    const nest = w.beginNest(type);
    const at = w.attrInPlace(DataAttr.VALUE, concatSize(kinds));
    this.fieldsInto(set, text, kinds, part, what, w.raw, at);
    w.endNest(nest);
  }

  /** A concatenation whose last field is a prefix (or a bare host): KEY and KEY_END. */
  private range(set: SetName, text: string, kinds: readonly FieldKind[], keyText: string): { key: Uint8Array; keyEnd: Uint8Array } {
    const cut = keyText.lastIndexOf(' . ');
    const last = kinds[kinds.length - 1]!;
    const family: Family = last === 'ipv4' ? 4 : 6;
    const head = this.concat(set, text, kinds.slice(0, -1), cut < 0 ? '' : keyText.slice(0, cut), 'key');
    const prefixText = keyText.slice(cut + 3);
    const cidr = parseFamilyCidr(prefixText, family);
    if (cidr === undefined) throw bad(set, text, `"${prefixText}" is not an IPv${family} prefix or address`);
    const range = cidrToRange(cidr);
    const key = new Uint8Array(head.length + fieldSize(last));
    key.set(head, 0);
    const keyEnd = key.slice();
    key.set(ipToBytes({ family, value: range.first }), head.length);
    keyEnd.set(ipToBytes({ family, value: range.last }), head.length);
    return { key, keyEnd };
  }

  /**
   * Prefixes of a plain interval set as nft 1.0.6 sends them (seen with --debug=netlink):
   * sorted; an end element at address zero first when the lowest prefix does not start there;
   * then per prefix a start element and an end element at the first address after it, except
   * for a prefix reaching the top of the address space, whose start carries libnftnl's
   * "interval open" user data instead (there is no address after it).
   */
  private intervals(set: SetName, verb: 'add' | 'delete', texts: readonly string[], family: Family): WireElement[] {
    const parsed = texts.map((text, source) => {
      const cidr = parseFamilyCidr(text, family);
      if (cidr === undefined) throw bad(set, text, `${set} holds IPv${family} prefixes or addresses`);
      return { range: cidrToRange(cidr), source };
    });
    parsed.sort((a, b) => (a.range.first < b.range.first ? -1 : a.range.first > b.range.first ? 1 : 0));
    const out: WireElement[] = [];
    const top = maxValue(family);
    const bytes = (value: bigint): Uint8Array => ipToBytes({ family, value });
    const first = parsed[0];
    if (verb === 'add' && first !== undefined && first.range.first !== 0n) {
      out.push({ key: bytes(0n), flags: NFT_SET_ELEM_INTERVAL_END, source: first.source });
    }
    for (const { range, source } of parsed) {
      if (range.last === top) {
        out.push({ key: bytes(range.first), flags: 0, userdata: OPEN_USERDATA, source });
      } else {
        out.push({ key: bytes(range.first), flags: 0, source });
        out.push({ key: bytes(range.last + 1n), flags: NFT_SET_ELEM_INTERVAL_END, source });
      }
    }
    return out;
  }
}

function writeValue(w: NetlinkWriter, type: number, bytes: Uint8Array): void {
  const nest = w.beginNest(type);
  w.attr(DataAttr.VALUE, bytes);
  w.endNest(nest);
}

function writeVerdict(w: NetlinkWriter, v: Verdict): void {
  const data = w.beginNest(SetElem.DATA);
  const verdict = w.beginNest(DataAttr.VERDICT);
  w.attrU32BE(VerdictAttr.CODE, v.code);
  if (v.chain !== undefined) w.attrString(VerdictAttr.CHAIN, v.chain);
  w.endNest(verdict);
  w.endNest(data);
}

/** One element as an NFTA_LIST_ELEM, attributes in libnftnl's order: flags, key, key end, data, user data. */
export function writeWireElement(w: NetlinkWriter, e: WireElement): void {
  const nest = w.beginNest(NFTA_LIST_ELEM);
  if (e.flags !== 0) w.attrU32BE(SetElem.FLAGS, e.flags);
  writeValue(w, SetElem.KEY, e.key);
  if (e.keyEnd !== undefined) writeValue(w, SetElem.KEY_END, e.keyEnd);
  if (e.data !== undefined) writeValue(w, SetElem.DATA, e.data);
  if (e.verdict !== undefined) writeVerdict(w, e.verdict);
  if (e.userdata !== undefined) w.attr(SetElem.USERDATA, e.userdata);
  w.endNest(nest);
}

/** NFTNL_UDATA_SET_ELEM_FLAGS (type 1, length 4) = NFTNL_SET_ELEM_F_INTERVAL_OPEN, host order. */
const OPEN_USERDATA: Uint8Array = (() => {
  const b = new Uint8Array(6);
  b[0] = NFTNL_UDATA_SET_ELEM_FLAGS;
  b[1] = 4;
  new DataView(b.buffer).setUint32(2, NFTNL_SET_ELEM_F_INTERVAL_OPEN, HOST_LE);
  return b;
})();

function isOpen(userdata: Uint8Array | undefined): boolean {
  // A TLV list (type u8, length u8, value); only the flags entry matters here.
  for (let at = 0; userdata !== undefined && at + 2 <= userdata.length; at += 2 + userdata[at + 1]!) {
    if (userdata[at] === NFTNL_UDATA_SET_ELEM_FLAGS && userdata[at + 1] === 4 && at + 6 <= userdata.length) {
      return (new DataView(userdata.buffer, userdata.byteOffset + at + 2, 4).getUint32(0, HOST_LE) & NFTNL_SET_ELEM_F_INTERVAL_OPEN) !== 0;
    }
  }
  return false;
}

function parseFamilyCidr(text: string, family: Family): ReturnType<typeof parseCidr> | undefined {
  try {
    const cidr = parseCidr(text);
    return cidr.family === family ? cidr : undefined;
  } catch {
    return undefined;
  }
}

const VERDICT_WORDS = new Map<string, number>([
  ['accept', VerdictCode.accept],
  ['drop', VerdictCode.drop],
  ['continue', VerdictCode.continue],
  ['return', VerdictCode.return],
]);
const CHAIN_NAME = /^[A-Za-z_][A-Za-z0-9_/.-]{0,255}$/;

function parseVerdict(set: SetName, text: string, verdict: string): Verdict {
  const word = VERDICT_WORDS.get(verdict);
  if (word !== undefined) return { code: word };
  const m = /^(goto|jump) (\S+)$/.exec(verdict);
  if (m === null || !CHAIN_NAME.test(m[2]!)) throw bad(set, text, `"${verdict}" is not a verdict (goto <chain>, jump <chain>, accept, drop, return, continue)`);
  return { code: m[1] === 'goto' ? VerdictCode.goto : VerdictCode.jump, chain: m[2]! };
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
