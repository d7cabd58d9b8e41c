// Element text → the kernel's bytes (see elements.ts for the layouts). Pure: no I/O.
import { cidrToRange, ipToBytes, maxValue, parseCidr, parseIp, type Family } from '../../../net/index.ts';
import { NftError, NftErrorCode } from '../errors.ts';
import type { SetName } from '../render.ts';
import { HOST_LE, type NetlinkWriter } from './attrs.ts';
import { DataAttr, NFTA_LIST_ELEM, NFTNL_SET_ELEM_F_INTERVAL_OPEN, NFTNL_UDATA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END, SetElem, VerdictAttr, VerdictCode } from './constants.ts';
import {
  FIELD_ALLOWED,
  PROTOCOL_NUMBERS,
  SET_LAYOUTS,
  VERDICT_WORDS,
  concatSize,
  fieldSize,
  type FieldKind,
  type SetLayout,
  type Verdict,
  type WireElement,
} from './elements.ts';

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
   * "interval open" user data instead (there is no address after it). The leading end element
   * changes nothing on kernel 6.18 (listings are the same without it); it is kept so that the
   * kernel sees exactly what nft would have sent.
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

function parseFamilyCidr(text: string, family: Family): ReturnType<typeof parseCidr> | undefined {
  try {
    const cidr = parseCidr(text);
    return cidr.family === family ? cidr : undefined;
  } catch {
    return undefined;
  }
}

const CHAIN_NAME = /^[A-Za-z_][A-Za-z0-9_/.-]{0,255}$/;

function parseVerdict(set: SetName, text: string, verdict: string): Verdict {
  const word = VERDICT_WORDS.get(verdict);
  if (word !== undefined) return { code: word };
  const m = /^(goto|jump) (\S+)$/.exec(verdict);
  if (m === null || !CHAIN_NAME.test(m[2]!)) throw bad(set, text, `"${verdict}" is not a verdict (goto <chain>, jump <chain>, accept, drop, return, continue)`);
  return { code: m[1] === 'goto' ? VerdictCode.goto : VerdictCode.jump, chain: m[2]! };
}
