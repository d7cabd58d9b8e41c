// nfnetlink messages for set elements: the batch that writes them (BATCH_BEGIN, NEWSETELEM /
// DELSETELEM messages, BATCH_END), the replies to it, and the dump that reads them back. Pure:
// bytes in, bytes out. Shapes follow what nft 1.0.6 sends (`nft --debug=mnl`).
import { Buffer } from 'node:buffer';
import { MalformedReply, NetlinkWriter, attrBytes, attrList, attrString, attrU32BE, attrU64BE, readAttrs, readU16h, readU32h, type Attr } from './attrs.ts';
import {
  CounterAttr,
  DataAttr,
  ExprAttr,
  NFTA_LIST_ELEM,
  Netlink,
  Nfnl,
  NftMsg,
  SetElem,
  SetElemList,
  VerdictAttr,
} from './constants.ts';
import type { DumpedElement, Verdict, WireElement } from './elements.ts';

/** The table every message names (family inet, name vipgate). */
export const TABLE_NAME = 'vipgate';

/**
 * Most bytes of elements in one message. NFTA_SET_ELEM_LIST_ELEMENTS is one attribute and an
 * attribute length is 16 bits, so a message holds at most 64 KB of elements (~1,400 IPv4
 * backend slots, ~900 IPv6 ones); a large op becomes several messages of one batch.
 */
export const MAX_ELEMENT_BYTES = 65535 - 4;

export type EncodedOp =
  | { readonly verb: 'add' | 'delete'; readonly set: string; readonly elements: readonly WireElement[] }
  | { readonly verb: 'flush'; readonly set: string };

/** Where a message of a batch came from, to name what the kernel refused. */
export interface MessageInfo {
  readonly seq: number;
  /** Index of the op in the batch. */
  readonly op: number;
  /** Offset in the message of each element's attribute, ascending, and its wire element. */
  readonly elementOffsets: readonly number[];
  readonly elements: readonly WireElement[];
}

export interface EncodedBatch {
  readonly bytes: Buffer;
  readonly beginSeq: number;
  readonly endSeq: number;
  readonly messages: readonly MessageInfo[];
}

function elementLength(e: WireElement): number {
  const value = (n: number): number => 4 + 4 + ((n + 3) & ~3); // nest + NFTA_DATA_VALUE
  let n = 4 + value(e.key.length);
  if (e.flags !== 0) n += 8;
  if (e.keyEnd !== undefined) n += value(e.keyEnd.length);
  if (e.data !== undefined) n += value(e.data.length);
  if (e.verdict !== undefined) n += 4 + 4 + 8 + (e.verdict.chain === undefined ? 0 : 4 + ((e.verdict.chain.length + 1 + 3) & ~3));
  if (e.userdata !== undefined) n += 4 + ((e.userdata.length + 3) & ~3);
  return n;
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

/** Attribute order as libnftnl writes it: flags, key, key end, data, user data. */
function writeElement(w: NetlinkWriter, e: WireElement): void {
  const nest = w.beginNest(NFTA_LIST_ELEM);
  if (e.flags !== 0) w.attrU32BE(SetElem.FLAGS, e.flags);
  writeValue(w, SetElem.KEY, e.key);
  if (e.keyEnd !== undefined) writeValue(w, SetElem.KEY_END, e.keyEnd);
  if (e.data !== undefined) writeValue(w, SetElem.DATA, e.data);
  if (e.verdict !== undefined) writeVerdict(w, e.verdict);
  if (e.userdata !== undefined) w.attr(SetElem.USERDATA, e.userdata);
  w.endNest(nest);
}

/**
 * One atomic batch of element ops on table inet vipgate, every message asking for an ACK so
 * that each is answered (error or success) by its sequence number. Ops with more than
 * MAX_ELEMENT_BYTES of elements are split over several messages of the same batch.
 */
export function encodeBatch(ops: readonly EncodedOp[], firstSeq: number, maxElementBytes = MAX_ELEMENT_BYTES): EncodedBatch {
  const w = new NetlinkWriter(1 << 16);
  let seq = firstSeq >>> 0;
  const next = (): number => {
    const s = seq;
    seq = (seq + 1) >>> 0;
    return s;
  };
  const beginSeq = next();
  const begin = w.beginMessage(Nfnl.NFNL_MSG_BATCH_BEGIN, Netlink.NLM_F_REQUEST, beginSeq, 0, Nfnl.NFNL_SUBSYS_NFTABLES);
  w.endMessage(begin);
  const messages: MessageInfo[] = [];
  const flags = Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK;
  ops.forEach((op, index) => {
    if (op.verb === 'flush') {
      // A DELSETELEM without elements empties the set (what `flush set` sends).
      const s = next();
      const at = w.beginMessage((Nfnl.NFNL_SUBSYS_NFTABLES << 8) | NftMsg.DELSETELEM, flags, s, Nfnl.NFPROTO_INET, 0);
      w.attrString(SetElemList.SET, op.set);
      w.attrString(SetElemList.TABLE, TABLE_NAME);
      w.endMessage(at);
      messages.push({ seq: s, op: index, elementOffsets: [], elements: [] });
      return;
    }
    const type = (Nfnl.NFNL_SUBSYS_NFTABLES << 8) | (op.verb === 'add' ? NftMsg.NEWSETELEM : NftMsg.DELSETELEM);
    let i = 0;
    // An op with no elements is nothing to do: no message (an empty list is refused).
    while (i < op.elements.length) {
      const s = next();
      const at = w.beginMessage(type, flags, s, Nfnl.NFPROTO_INET, 0);
      w.attrString(SetElemList.TABLE, TABLE_NAME);
      w.attrString(SetElemList.SET, op.set);
      const list = w.beginNest(SetElemList.ELEMENTS);
      const offsets: number[] = [];
      const start = i;
      let bytes = 0;
      for (; i < op.elements.length; i++) {
        const e = op.elements[i]!;
        const n = elementLength(e);
        if (bytes + n > maxElementBytes && i > start) break;
        offsets.push(w.length - at);
        writeElement(w, e);
        bytes += n;
      }
      w.endNest(list);
      w.endMessage(at);
      messages.push({ seq: s, op: index, elementOffsets: offsets, elements: op.elements.slice(start, i) });
    }
  });
  const endSeq = next();
  const end = w.beginMessage(Nfnl.NFNL_MSG_BATCH_END, Netlink.NLM_F_REQUEST, endSeq, 0, Nfnl.NFNL_SUBSYS_NFTABLES);
  w.endMessage(end);
  return { bytes: w.bytes(), beginSeq, endSeq, messages };
}

/** An answer to one message: errno 0 is an ACK. */
export interface Reply {
  readonly seq: number;
  readonly errno: number;
  /** NLMSGERR_ATTR_OFFS: offset of the refused attribute in the original message. */
  readonly offset?: number;
  /** NLMSGERR_ATTR_MSG: the kernel's own words, when it gave some. */
  readonly message?: string;
}

export type ReplyEvent =
  | { readonly kind: 'reply'; readonly reply: Reply }
  | { readonly kind: 'elements'; readonly seq: number; readonly interrupted: boolean; readonly set: string; readonly elements: DumpedElement[] }
  | { readonly kind: 'done'; readonly seq: number; readonly interrupted: boolean }
  | { readonly kind: 'other'; readonly seq: number; readonly type: number };

const NEWSETELEM = (Nfnl.NFNL_SUBSYS_NFTABLES << 8) | NftMsg.NEWSETELEM;

/** Every netlink message in one received datagram. Throws MalformedReply on bad framing. */
export function decodeReplies(b: Buffer): ReplyEvent[] {
  const out: ReplyEvent[] = [];
  let at = 0;
  while (at + Netlink.NLMSG_HDRLEN <= b.length) {
    const length = readU32h(b, at);
    if (length < Netlink.NLMSG_HDRLEN || at + length > b.length) throw new MalformedReply(`a netlink message at ${at} claims ${length} bytes, ${b.length - at} left`);
    const type = readU16h(b, at + 4);
    const flags = readU16h(b, at + 6);
    const seq = readU32h(b, at + 8);
    const end = at + length;
    const interrupted = (flags & Netlink.NLM_F_DUMP_INTR) !== 0;
    if (type === Netlink.NLMSG_ERROR) out.push({ kind: 'reply', reply: decodeError(b, at, end, flags, seq) });
    else if (type === Netlink.NLMSG_DONE) out.push({ kind: 'done', seq, interrupted });
    else if (type === NEWSETELEM) out.push({ kind: 'elements', seq, interrupted, ...decodeElementList(b, at + Netlink.NLMSG_HDRLEN + Nfnl.NFGENMSG_LEN, end) });
    else out.push({ kind: 'other', seq, type });
    at += (length + 3) & ~3;
  }
  return out;
}

function decodeError(b: Buffer, at: number, end: number, flags: number, seq: number): Reply {
  const body = at + Netlink.NLMSG_HDRLEN;
  if (body + 4 + Netlink.NLMSG_HDRLEN > end) throw new MalformedReply('an error reply is cut short');
  // nlmsgerr.error: a negative errno in host order, 0 for an ACK.
  const errno = 0 - (readU32h(b, body) | 0);
  const origLength = readU32h(b, body + 4);
  // With NETLINK_CAP_ACK (or for an ACK) only the original header is echoed.
  const echoed = (flags & Netlink.NLM_F_CAPPED) !== 0 ? Netlink.NLMSG_HDRLEN : (origLength + 3) & ~3;
  const tlvs = body + 4 + echoed;
  let offset: number | undefined;
  let message: string | undefined;
  if ((flags & Netlink.NLM_F_ACK_TLVS) !== 0 && tlvs <= end) {
    const attrs = readAttrs(b, tlvs, end);
    const offs = attrs.get(Netlink.NLMSGERR_ATTR_OFFS);
    if (offs !== undefined && offs.end - offs.start >= 4) offset = readU32h(b, offs.start);
    const msg = attrs.get(Netlink.NLMSGERR_ATTR_MSG);
    if (msg !== undefined) message = attrString(b, msg);
  }
  return { seq, errno, ...(offset === undefined ? {} : { offset }), ...(message === undefined ? {} : { message }) };
}

function value(b: Buffer, a: Attr | undefined): Uint8Array | undefined {
  if (a === undefined) return undefined;
  const v = readAttrs(b, a.start, a.end).get(DataAttr.VALUE);
  return v === undefined ? undefined : Uint8Array.from(attrBytes(b, v));
}

function counterOf(b: Buffer, expr: Attr): { packets: bigint; bytes: bigint } | undefined {
  const attrs = readAttrs(b, expr.start, expr.end);
  const name = attrs.get(ExprAttr.NAME);
  const data = attrs.get(ExprAttr.DATA);
  if (name === undefined || data === undefined || attrString(b, name) !== 'counter') return undefined;
  const c = readAttrs(b, data.start, data.end);
  const packets = c.get(CounterAttr.PACKETS);
  const bytes = c.get(CounterAttr.BYTES);
  return { packets: packets === undefined ? 0n : attrU64BE(b, packets), bytes: bytes === undefined ? 0n : attrU64BE(b, bytes) };
}

function decodeElementList(b: Buffer, start: number, end: number): { set: string; elements: DumpedElement[] } {
  const top = readAttrs(b, start, end);
  const setAttr = top.get(SetElemList.SET);
  const list = top.get(SetElemList.ELEMENTS);
  const elements: DumpedElement[] = [];
  for (const item of list === undefined ? [] : attrList(b, list.start, list.end)) {
    const a = readAttrs(b, item.start, item.end);
    const key = value(b, a.get(SetElem.KEY));
    if (key === undefined) throw new MalformedReply('a dumped element has no key');
    const keyEnd = value(b, a.get(SetElem.KEY_END));
    const flagsAttr = a.get(SetElem.FLAGS);
    const dataAttr = a.get(SetElem.DATA);
    const userdata = a.get(SetElem.USERDATA);
    let data: Uint8Array | undefined;
    let verdict: Verdict | undefined;
    if (dataAttr !== undefined) {
      const d = readAttrs(b, dataAttr.start, dataAttr.end);
      const v = d.get(DataAttr.VERDICT);
      if (v !== undefined) {
        const va = readAttrs(b, v.start, v.end);
        const code = va.get(VerdictAttr.CODE);
        const chain = va.get(VerdictAttr.CHAIN);
        if (code === undefined) throw new MalformedReply('a dumped verdict has no code');
        verdict = { code: attrU32BE(b, code) | 0, ...(chain === undefined ? {} : { chain: attrString(b, chain) }) };
      } else data = value(b, dataAttr);
    }
    // One expression comes as NFTA_SET_ELEM_EXPR, several as a list (kernel nft_set_elem_expr_dump).
    let counter: { packets: bigint; bytes: bigint } | undefined;
    const one = a.get(SetElem.EXPR);
    if (one !== undefined) counter = counterOf(b, one);
    const many = a.get(SetElem.EXPRESSIONS);
    if (many !== undefined) for (const e of attrList(b, many.start, many.end)) counter ??= counterOf(b, e);
    elements.push({
      key,
      flags: flagsAttr === undefined ? 0 : attrU32BE(b, flagsAttr),
      ...(keyEnd === undefined ? {} : { keyEnd }),
      ...(data === undefined ? {} : { data }),
      ...(verdict === undefined ? {} : { verdict }),
      ...(userdata === undefined ? {} : { userdata: Uint8Array.from(attrBytes(b, userdata)) }),
      ...(counter === undefined ? {} : { counter }),
    });
  }
  return { set: setAttr === undefined ? '' : attrString(b, setAttr), elements };
}

/** The dump request for every element of one set of table inet vipgate. */
export function encodeGetElements(set: string, seq: number): Buffer {
  const w = new NetlinkWriter(128);
  const at = w.beginMessage((Nfnl.NFNL_SUBSYS_NFTABLES << 8) | NftMsg.GETSETELEM, Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP, seq >>> 0, Nfnl.NFPROTO_INET, 0);
  w.attrString(SetElemList.TABLE, TABLE_NAME);
  w.attrString(SetElemList.SET, set);
  w.endMessage(at);
  return Buffer.from(w.bytes());
}

/**
 * The element of a message that an error offset points into (the kernel marks the refused
 * element's attribute), or undefined when the offset is absent or before the first element.
 */
export function elementAt(info: MessageInfo, offset: number | undefined): WireElement | undefined {
  if (offset === undefined || info.elementOffsets.length === 0 || offset < info.elementOffsets[0]!) return undefined;
  let lo = 0;
  let hi = info.elementOffsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (info.elementOffsets[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return info.elements[lo];
}
