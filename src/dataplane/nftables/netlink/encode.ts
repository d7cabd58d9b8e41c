// Element structures (../set-elements.ts) → the kernel's bytes (see elements.ts for the
// layouts). The values are written as they are parsed; no text is read. Pure: no I/O.
import { cidrToRange, ipToBytes, maxValue, type Family, type IpAddress } from '../../../net/index.ts';
import { NftError, NftErrorCode } from '../errors.ts';
import type { SetName } from '../render.ts';
import { elementText, type SetElement, type VipKey } from '../set-elements.ts';
import { HOST_LE, type NetlinkWriter } from './attrs.ts';
import { DataAttr, NFTA_LIST_ELEM, NFTNL_SET_ELEM_F_INTERVAL_OPEN, NFTNL_UDATA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END, SetElem, VerdictAttr, VerdictCode } from './constants.ts';
import { PROTOCOL_NUMBERS, SET_LAYOUTS, concatSize, type SetLayout, type Verdict, type WireElement } from './elements.ts';

function bad(set: SetName, e: SetElement, why: string): NftError {
  return new NftError(NftErrorCode.commandFailed, `element "${elementText(e)}" of ${set} can't be written: ${why}; nothing was sent`);
}

/** The element kind each set takes (by its layout). */
export function elementKind(layout: SetLayout): SetElement['kind'] {
  if (layout.shape === 'intervals') return 'prefix';
  if (layout.shape === 'ranges') return 'source';
  if (layout.data === 'verdict') return 'frontend';
  return layout.key.includes('slot') ? 'slot' : 'vip';
}

const familyOf = (layout: SetLayout): Family => (layout.key[0] === 'ipv4' ? 4 : 6);

const CHAIN_NAME = /^[A-Za-z_][A-Za-z0-9_/.-]{0,255}$/;

/**
 * Checks an element against its set and verb before anything is written: its kind, the family
 * of every address, a value exactly when a map element is added. Throws NftError naming it.
 */
function check(set: SetName, layout: SetLayout, verb: 'add' | 'delete', e: SetElement): void {
  const kind = elementKind(layout);
  if (e.kind !== kind) throw bad(set, e, `${set} takes ${kind} elements, not ${e.kind}`);
  const family = familyOf(layout);
  const vip = e.kind === 'prefix' ? undefined : e.vip;
  if (vip !== undefined) {
    if (vip.address.family !== family) throw bad(set, e, `its VIP is not an IPv${family} address`);
    if (PROTOCOL_NUMBERS[vip.protocol] === undefined) throw bad(set, e, `"${vip.protocol}" is not tcp or udp`);
    if (!Number.isInteger(vip.port) || vip.port < 0 || vip.port > 0xffff) throw bad(set, e, `${vip.port} is not a port 0-65535`);
  }
  const value = e.kind === 'frontend' ? e.goto : e.kind === 'slot' ? e.backend : undefined;
  if (layout.data !== 'none' && verb === 'add' && value === undefined) throw bad(set, e, `${set} is a map: an added element needs its value`);
  if (verb === 'delete' && value !== undefined) throw bad(set, e, 'a delete names the key only');
  if (e.kind === 'frontend' && e.goto !== undefined && !CHAIN_NAME.test(e.goto)) throw bad(set, e, `"${e.goto}" is not a chain name`);
  if (e.kind === 'slot') {
    if (!Number.isInteger(e.slot) || e.slot < 0 || e.slot > 0xffffffff) throw bad(set, e, `${e.slot} is not a slot number 0-4294967295`);
    const b = e.backend;
    if (b !== undefined && (b.address.family !== family || !Number.isInteger(b.port) || b.port < 0 || b.port > 0xffff)) {
      throw bad(set, e, `its backend is not an IPv${family} address and a port 0-65535`);
    }
  }
  const prefix = e.kind === 'source' ? e.source : e.kind === 'prefix' ? e.prefix : undefined;
  if (prefix !== undefined && prefix.cidr?.family !== family) throw bad(set, e, `"${prefix.text}" is not an IPv${family} prefix or address`);
}

/** Encoder state for one batch: IPv6 addresses' bytes are reused (VIPs and backends repeat). */
export class ElementEncoder {
  private readonly v6 = new Map<bigint, Uint8Array>();

  private address(ip: IpAddress, out: Uint8Array, at: number): number {
    if (ip.family === 4) {
      // The 32-bit value straight into place: no byte array per address (100k of them cold).
      const n = Number(ip.value);
      out[at] = n >>> 24;
      out[at + 1] = (n >>> 16) & 0xff;
      out[at + 2] = (n >>> 8) & 0xff;
      out[at + 3] = n & 0xff;
      return at + 4;
    }
    let bytes = this.v6.get(ip.value);
    if (bytes === undefined) {
      bytes = ipToBytes(ip);
      this.v6.set(ip.value, bytes);
    }
    out.set(bytes, at);
    return at + 16;
  }

  /** A port in its 4-byte register, big-endian, zero padded. */
  private static port(port: number, out: Uint8Array, at: number): number {
    out[at] = port >> 8;
    out[at + 1] = port & 0xff;
    return at + 4;
  }

  /** `address . l4proto . port`: 12 or 24 bytes. */
  private vip(vip: VipKey, out: Uint8Array, at: number): number {
    at = this.address(vip.address, out, at);
    out[at] = PROTOCOL_NUMBERS[vip.protocol]!;
    return ElementEncoder.port(vip.port, out, at + 4);
  }

  /** The key of a hash-set element into out[at…] (the layout's concatenation). */
  private keyInto(e: SetElement, out: Uint8Array, at: number): void {
    if (e.kind === 'prefix' || e.kind === 'source') throw new Error(`keyInto: ${e.kind} is no hash-set key`);
    at = this.vip(e.vip, out, at);
    if (e.kind === 'slot') {
      // The numgen slot is a u32 register in host byte order.
      for (let i = 0; i < 4; i++) out[at + (HOST_LE ? i : 3 - i)] = Math.floor(e.slot / 2 ** (8 * i)) & 0xff;
    }
  }

  /** The value of an added backends-map element: `address . port`. */
  private backendInto(e: SetElement, out: Uint8Array, at: number): void {
    if (e.kind !== 'slot' || e.backend === undefined) throw new Error('backendInto: no backend');
    ElementEncoder.port(e.backend.port, out, this.address(e.backend.address, out, at));
  }

  /**
   * The wire elements of `elements` for `verb` on `set`. A delete names the key only (and, for
   * interval sets, the same range). Throws NftError naming the first element that isn't of
   * the set's shape.
   */
  encode(set: SetName, verb: 'add' | 'delete', elements: readonly SetElement[]): WireElement[] {
    const layout = SET_LAYOUTS[set];
    for (const e of elements) check(set, layout, verb, e);
    if (layout.shape === 'intervals') return this.intervals(verb, elements, familyOf(layout));
    return elements.map((e, source) => {
      let element: WireElement;
      if (layout.shape === 'ranges') {
        element = { ...this.range(e), flags: 0, source };
      } else {
        const key = new Uint8Array(concatSize(layout.key));
        this.keyInto(e, key, 0);
        element = { key, flags: 0, source };
      }
      if (e.kind === 'frontend' && e.goto !== undefined) element = { ...element, verdict: { code: VerdictCode.goto, chain: e.goto } };
      if (e.kind === 'slot' && e.backend !== undefined && Array.isArray(layout.data)) {
        const data = new Uint8Array(concatSize(layout.data));
        this.backendInto(e, data, 0);
        element = { ...element, data };
      }
      return element;
    });
  }

  /**
   * Writes one element of a hash set or map straight into `w` as an NFTA_LIST_ELEM, the same
   * bytes as writeWireElement(encode(…)) without an object per element: a cold load writes
   * 130k of them in one batch. Interval sets go through encode().
   */
  write(w: NetlinkWriter, set: SetName, layout: SetLayout, verb: 'add' | 'delete', e: SetElement): void {
    if (layout.shape !== 'hash') {
      for (const wire of this.encode(set, verb, [e])) writeWireElement(w, wire);
      return;
    }
    check(set, layout, verb, e);
    const nest = w.beginNest(NFTA_LIST_ELEM);
    const key = w.beginNest(SetElem.KEY);
    // attrInPlace may grow the buffer: `w.raw` is read after it.
    const keyAt = w.attrInPlace(DataAttr.VALUE, concatSize(layout.key));
    this.keyInto(e, w.raw, keyAt);
    w.endNest(key);
    if (e.kind === 'frontend' && e.goto !== undefined) writeVerdict(w, { code: VerdictCode.goto, chain: e.goto });
    if (e.kind === 'slot' && e.backend !== undefined && Array.isArray(layout.data)) {
      const data = w.beginNest(SetElem.DATA);
      const dataAt = w.attrInPlace(DataAttr.VALUE, concatSize(layout.data));
      this.backendInto(e, w.raw, dataAt);
      w.endNest(data);
    }
    w.endNest(nest);
  }

  /** An allow element (`vip . prefix`, the kernel's pipapo): KEY and KEY_END. */
  private range(e: SetElement): { key: Uint8Array; keyEnd: Uint8Array } {
    if (e.kind !== 'source' || e.source.cidr === undefined) throw new Error('range: no source prefix');
    const { cidr } = e.source;
    const size = cidr.family === 4 ? 16 : 40;
    const key = new Uint8Array(size);
    const at = this.vip(e.vip, key, 0);
    const keyEnd = key.slice();
    const r = cidrToRange(cidr);
    this.address({ family: cidr.family, value: r.first }, key, at);
    this.address({ family: cidr.family, value: r.last }, keyEnd, at);
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
  private intervals(verb: 'add' | 'delete', elements: readonly SetElement[], family: Family): WireElement[] {
    const parsed = elements.map((e, source) => {
      if (e.kind !== 'prefix' || e.prefix.cidr === undefined) throw new Error('intervals: unchecked element'); // check() refused it
      return { range: cidrToRange(e.prefix.cidr), source };
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
