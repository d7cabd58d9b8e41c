// The two stateful pieces of the codec: a writer that appends netlink messages and attributes
// to one growing buffer (nested lengths patched when a nest closes), and a bounds-checked
// reader of attribute lists. Netlink headers and attribute headers are in host byte order;
// nf_tables payloads are big-endian unless noted.
import { endianness } from 'node:os';
import { Netlink } from './constants.ts';

export const HOST_LE = endianness() === 'LE';

export const align4 = (n: number): number => (n + 3) & ~3;

/** Appends netlink messages to a buffer that grows by doubling. */
export class NetlinkWriter {
  private buf: Buffer;
  private pos = 0;
  constructor(initial = 65536) {
    this.buf = Buffer.alloc(initial);
  }
  get length(): number {
    return this.pos;
  }
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  private u16h(v: number, at: number): void {
    if (HOST_LE) this.buf.writeUInt16LE(v, at);
    else this.buf.writeUInt16BE(v, at);
  }
  private u32h(v: number, at: number): void {
    if (HOST_LE) this.buf.writeUInt32LE(v >>> 0, at);
    else this.buf.writeUInt32BE(v >>> 0, at);
  }
  /** Starts a message: nlmsghdr + nfgenmsg. Returns its offset, for endMessage. */
  beginMessage(type: number, flags: number, seq: number, family: number, resId: number): number {
    this.room(20);
    const at = this.pos;
    this.u32h(0, at);
    this.u16h(type, at + 4);
    this.u16h(flags, at + 6);
    this.u32h(seq, at + 8);
    this.u32h(0, at + 12); // port id: the kernel's is 0
    this.buf[at + 16] = family;
    this.buf[at + 17] = 0; // NFNETLINK_V0
    this.buf.writeUInt16BE(resId, at + 18);
    this.pos += 20;
    return at;
  }
  endMessage(at: number): void {
    this.u32h(this.pos - at, at);
  }
  /** One attribute with a raw payload, padded to 4 bytes. */
  attr(type: number, payload: Uint8Array): void {
    const total = align4(4 + payload.length);
    this.room(total);
    this.u16h(4 + payload.length, this.pos);
    this.u16h(type, this.pos + 2);
    this.buf.set(payload, this.pos + 4);
    this.buf.fill(0, this.pos + 4 + payload.length, this.pos + total);
    this.pos += total;
  }
  attrU32BE(type: number, value: number): void {
    this.room(8);
    this.u16h(8, this.pos);
    this.u16h(type, this.pos + 2);
    this.buf.writeInt32BE(value | 0, this.pos + 4);
    this.pos += 8;
  }
  /** A NUL-terminated string attribute. */
  attrString(type: number, text: string): void {
    this.attr(type, Buffer.from(`${text}\0`, 'latin1'));
  }
  /** Opens a nested attribute; returns its offset for endNest. */
  beginNest(type: number): number {
    this.room(4);
    const at = this.pos;
    this.u16h(0, at);
    this.u16h(type | Netlink.NLA_F_NESTED, at + 2);
    this.pos += 4;
    return at;
  }
  /** Closes a nest; returns its length (an attribute length is 16 bits: callers keep under it). */
  endNest(at: number): number {
    const length = this.pos - at;
    if (length > 0xffff) throw new RangeError(`a netlink attribute holds at most 65535 bytes, not ${length}`);
    this.u16h(length, at);
    return length;
  }
  /**
   * Appends an attribute header for `size` payload bytes and reserves them (zeroed, padded);
   * returns where the payload starts in `raw`, for the caller to fill in place.
   */
  attrInPlace(type: number, size: number): number {
    const total = align4(4 + size);
    this.room(total);
    this.u16h(4 + size, this.pos);
    this.u16h(type, this.pos + 2);
    this.buf.fill(0, this.pos + 4, this.pos + total);
    const at = this.pos + 4;
    this.pos += total;
    return at;
  }
  /** The underlying buffer; valid until the next write (it may grow). */
  get raw(): Buffer {
    return this.buf;
  }
  /** Drops everything written after `length` (an element that did not fit its message). */
  truncate(length: number): void {
    this.pos = length;
  }
  /** The bytes written so far (a copy-free view). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export interface Attr {
  readonly type: number;
  /** Payload start and end (exclusive) in the reader's buffer. */
  readonly start: number;
  readonly end: number;
}

/** Thrown for bytes that are not the shape the kernel sends; never escapes the decoders. */
export class MalformedReply extends Error {
  override readonly name = 'MalformedReply';
}

export function readU16h(b: Uint8Array, at: number): number {
  return HOST_LE ? b[at]! | (b[at + 1]! << 8) : (b[at]! << 8) | b[at + 1]!;
}

export function readU32h(b: Buffer, at: number): number {
  return HOST_LE ? b.readUInt32LE(at) : b.readUInt32BE(at);
}

/** The attributes in b[start, end), by type (the nested flag stripped); the last one of a type wins. */
export function readAttrs(b: Buffer, start: number, end: number): Map<number, Attr> {
  const out = new Map<number, Attr>();
  for (const a of attrList(b, start, end)) out.set(a.type, a);
  return out;
}

/** The attributes in b[start, end), in order. */
export function attrList(b: Buffer, start: number, end: number): Attr[] {
  const out: Attr[] = [];
  let at = start;
  while (at + 4 <= end) {
    const length = readU16h(b, at);
    if (length < 4 || at + length > end) throw new MalformedReply(`attribute at ${at} claims ${length} bytes, ${end - at} left`);
    out.push({ type: readU16h(b, at + 2) & Netlink.NLA_TYPE_MASK, start: at + 4, end: at + length });
    at += align4(length);
  }
  return out;
}

export function attrBytes(b: Buffer, a: Attr): Buffer {
  return b.subarray(a.start, a.end);
}

export function attrU32BE(b: Buffer, a: Attr): number {
  if (a.end - a.start < 4) throw new MalformedReply(`a 32-bit attribute of type ${a.type} has ${a.end - a.start} bytes`);
  return b.readUInt32BE(a.start);
}

export function attrU64BE(b: Buffer, a: Attr): bigint {
  if (a.end - a.start < 8) throw new MalformedReply(`a 64-bit attribute of type ${a.type} has ${a.end - a.start} bytes`);
  return b.readBigUInt64BE(a.start);
}

export function attrString(b: Buffer, a: Attr): string {
  const raw = b.subarray(a.start, a.end);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('latin1');
}
