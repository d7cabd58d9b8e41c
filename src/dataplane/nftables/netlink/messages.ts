// nfnetlink messages for set elements: the batch that writes them (BATCH_BEGIN, NEWSETELEM /
// DELSETELEM messages, BATCH_END), the replies to it, and the dump that reads them back. Pure:
// bytes in, bytes out. Shapes follow what nft 1.0.6 sends (`nft --debug=mnl`).
import { Buffer } from 'node:buffer';
import { MalformedReply, NetlinkWriter, attrList, attrString, attrU32BE, attrU64BE, readAttrs, readU16h, readU32h, type Attr } from './attrs.ts';
import {
  CounterAttr,
  DataAttr,
  ExprAttr,
  Netlink,
  Nfnl,
  NftMsg,
  SetElem,
  SetElemList,
  VerdictAttr,
} from './constants.ts';
import type { SetName } from '../render.ts';
import type { SetElement } from '../set-elements.ts';
import { SET_LAYOUTS, type DumpedElement, type Verdict } from './elements.ts';
import { ElementEncoder, writeWireElement } from './encode.ts';

/** The table every message names (family inet, name vipgate). */
export const TABLE_NAME = 'vipgate';

/**
 * Most bytes of elements in one message. NFTA_SET_ELEM_LIST_ELEMENTS is one attribute and an
 * attribute length is 16 bits, so a message holds at most 64 KB of elements (~1,400 IPv4
 * backend slots, ~900 IPv6 ones); a large op becomes several messages of one batch.
 */
export const MAX_ELEMENT_BYTES = 65535 - 4;

/** One op of a batch, elements as the structures diff.ts writes. */
export type ElementBatchOp =
  | { readonly verb: 'add' | 'delete'; readonly set: SetName; readonly elements: readonly SetElement[] }
  | { readonly verb: 'flush'; readonly set: SetName };

/** Where a message of a batch came from, to name what the kernel refused. */
export interface MessageInfo {
  readonly seq: number;
  /** Index of the op in the batch. */
  readonly op: number;
  /** Offset in the message of each wire element's attribute, ascending… */
  readonly elementOffsets: readonly number[];
  /** …and the index in the op's `elements` of the text it came from. */
  readonly sources: readonly number[];
}

export interface EncodedBatch {
  readonly bytes: Buffer;
  readonly beginSeq: number;
  readonly endSeq: number;
  readonly messages: readonly MessageInfo[];
}

/** Room for a batch: elements sized from their set's layout (verdict chains by their names). */
export function estimateBytes(ops: readonly ElementBatchOp[]): number {
  let bytes = 64;
  for (const op of ops) {
    bytes += 64;
    if (op.verb === 'flush') continue;
    const layout = SET_LAYOUTS[op.set];
    const size = (kinds: readonly string[]): number => 8 + kinds.reduce((n, k) => n + (k === 'ipv6' ? 16 : 4), 0);
    let each = 4 + 4 + size(layout.key) + (layout.shape === 'ranges' ? 4 + size(layout.key) : 0);
    if (op.verb === 'add' && Array.isArray(layout.data)) each += 4 + size(layout.data);
    bytes += each * op.elements.length * (layout.shape === 'intervals' ? 2 : 1);
    if (op.verb === 'add' && layout.data === 'verdict') for (const e of op.elements) bytes += 24 + (e.kind === 'frontend' ? (e.goto?.length ?? 0) : 0);
    bytes += 64 * Math.ceil((each * op.elements.length) / MAX_ELEMENT_BYTES);
  }
  return bytes;
}

/**
 * One atomic batch of element ops on table inet vipgate, every message asking for an ACK so
 * that each is answered (error or success) by its sequence number. Elements are written
 * straight from their structures into the batch (no object per element); an op with more than
 * `maxElementBytes` of elements is split over several messages of the same batch. Throws
 * NftError naming the first element that is not of its set, before anything is sent.
 */
export function encodeBatch(ops: readonly ElementBatchOp[], firstSeq: number, maxElementBytes = MAX_ELEMENT_BYTES): EncodedBatch {
  // Sized up front: a cold load is ~5 MB, and growing by doubling would leave as much garbage.
  const w = new NetlinkWriter(estimateBytes(ops));
  const encoder = new ElementEncoder();
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
      messages.push({ seq: s, op: index, elementOffsets: [], sources: [] });
      return;
    }
    const layout = SET_LAYOUTS[op.set];
    const type = (Nfnl.NFNL_SUBSYS_NFTABLES << 8) | (op.verb === 'add' ? NftMsg.NEWSETELEM : NftMsg.DELSETELEM);
    // Interval sets need all their elements at once (sorted, start/end pairs); they are short.
    const wire = layout.shape === 'intervals' ? encoder.encode(op.set, op.verb, op.elements) : undefined;
    const count = wire?.length ?? op.elements.length;
    let i = 0;
    // An op with no elements is nothing to do: no message (an empty list is refused).
    while (i < count) {
      const s = next();
      const at = w.beginMessage(type, flags, s, Nfnl.NFPROTO_INET, 0);
      w.attrString(SetElemList.TABLE, TABLE_NAME);
      w.attrString(SetElemList.SET, op.set);
      const list = w.beginNest(SetElemList.ELEMENTS);
      const offsets: number[] = [];
      const sources: number[] = [];
      const first = i;
      for (; i < count; i++) {
        const start = w.length;
        const e = wire?.[i];
        if (e === undefined) encoder.write(w, op.set, layout, op.verb, op.elements[i]!);
        else writeWireElement(w, e);
        if (w.length - list - 4 > maxElementBytes && i > first) {
          w.truncate(start); // this one goes first into the next message
          break;
        }
        offsets.push(start - at);
        sources.push(e === undefined ? i : e.source);
      }
      w.endNest(list);
      w.endMessage(at);
      messages.push({ seq: s, op: index, elementOffsets: offsets, sources });
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

/** Calls visit(type, payloadStart, payloadEnd) for each attribute in b[start, end). */
function walk(b: Buffer, start: number, end: number, visit: (type: number, s: number, e: number) => void): void {
  let at = start;
  while (at + 4 <= end) {
    const length = readU16h(b, at);
    if (length < 4 || at + length > end) throw new MalformedReply(`attribute at ${at} claims ${length} bytes, ${end - at} left`);
    visit(readU16h(b, at + 2) & Netlink.NLA_TYPE_MASK, at + 4, at + length);
    at += (length + 3) & ~3;
  }
}

/** The NFTA_DATA_VALUE inside a KEY/KEY_END/DATA nest, as a view (no copy). */
function innerValue(b: Buffer, start: number, end: number): Uint8Array | undefined {
  let out: Uint8Array | undefined;
  walk(b, start, end, (type, s, e) => {
    if (type === DataAttr.VALUE) out = b.subarray(s, e);
  });
  return out;
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

function verdictOf(b: Buffer, start: number, end: number): Verdict {
  let code: number | undefined;
  let chain: string | undefined;
  walk(b, start, end, (type, s, e) => {
    if (type === VerdictAttr.CODE) code = attrU32BE(b, { type, start: s, end: e }) | 0;
    else if (type === VerdictAttr.CHAIN) chain = attrString(b, { type, start: s, end: e });
  });
  if (code === undefined) throw new MalformedReply('a dumped verdict has no code');
  return chain === undefined ? { code } : { code, chain };
}

interface MutableElement {
  key?: Uint8Array;
  keyEnd?: Uint8Array;
  flags: number;
  data?: Uint8Array;
  verdict?: Verdict;
  userdata?: Uint8Array;
  counter?: { packets: bigint; bytes: bigint };
}

/**
 * One element of a dump. Byte fields are views into `b` (a dump of 100k elements is decoded
 * to text datagram by datagram; copying every key first doubled the time).
 */
function decodeElement(b: Buffer, start: number, end: number): DumpedElement {
  const e: MutableElement = { flags: 0 };
  walk(b, start, end, (type, s, t) => {
    switch (type) {
      case SetElem.KEY: {
        const v = innerValue(b, s, t);
        if (v !== undefined) e.key = v;
        break;
      }
      case SetElem.KEY_END: {
        const v = innerValue(b, s, t);
        if (v !== undefined) e.keyEnd = v;
        break;
      }
      case SetElem.FLAGS:
        e.flags = attrU32BE(b, { type, start: s, end: t });
        break;
      case SetElem.DATA:
        walk(b, s, t, (inner, is, ie) => {
          if (inner === DataAttr.VERDICT) e.verdict = verdictOf(b, is, ie);
          else if (inner === DataAttr.VALUE) e.data = b.subarray(is, ie);
        });
        break;
      case SetElem.USERDATA:
        e.userdata = b.subarray(s, t);
        break;
      // One expression comes as NFTA_SET_ELEM_EXPR, several as a list (kernel nft_set_elem_expr_dump).
      case SetElem.EXPR: {
        const c = counterOf(b, { type, start: s, end: t });
        if (c !== undefined) e.counter ??= c;
        break;
      }
      case SetElem.EXPRESSIONS:
        for (const x of attrList(b, s, t)) {
          const c = counterOf(b, x);
          if (c !== undefined) e.counter ??= c;
        }
        break;
    }
  });
  if (e.key === undefined) throw new MalformedReply('a dumped element has no key');
  return e as DumpedElement;
}

function decodeElementList(b: Buffer, start: number, end: number): { set: string; elements: DumpedElement[] } {
  let set = '';
  const elements: DumpedElement[] = [];
  walk(b, start, end, (type, s, e) => {
    if (type === SetElemList.SET) set = attrString(b, { type, start: s, end: e });
    else if (type === SetElemList.ELEMENTS) walk(b, s, e, (_, is, ie) => elements.push(decodeElement(b, is, ie)));
  });
  return { set, elements };
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
 * The index (in its op's elements) of the element text an error offset points into (the
 * kernel marks the refused element's attribute), or undefined when the offset is absent or
 * before the first element.
 */
export function elementAt(info: MessageInfo, offset: number | undefined): number | undefined {
  if (offset === undefined || info.elementOffsets.length === 0 || offset < info.elementOffsets[0]!) return undefined;
  let lo = 0;
  let hi = info.elementOffsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (info.elementOffsets[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return info.sources[lo];
}
