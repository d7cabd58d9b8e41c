import { BgpError, BgpErrorCode, type BgpMessageError } from '../errors.ts';

/** Builds the error to throw when a field runs past the end of its enclosing structure. */
export type ShortReadError = (need: number, have: number) => BgpMessageError;

/**
 * A cursor over bytes that checks the length before every read, so malformed input becomes the
 * caller's protocol error (not a RangeError from DataView). The DataView is built with the
 * array's byteOffset: pooled Node Buffers do not start at offset 0 of their ArrayBuffer.
 */
export class ByteReader {
  private readonly view: DataView;
  private position = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly shortRead: ShortReadError,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return this.data.length - this.position;
  }

  get atEnd(): boolean {
    return this.position >= this.data.length;
  }

  private need(n: number): void {
    if (n > this.remaining) throw this.shortRead(n, this.remaining);
  }

  /** The next byte, without moving past it. */
  peekU8(): number {
    this.need(1);
    return this.view.getUint8(this.position);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.position++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.position);
    this.position += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.position);
    this.position += 4;
    return v;
  }

  /** A view (not a copy) of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.position, this.position + n);
    this.position += n;
    return out;
  }

  /** A reader over the next `n` bytes whose own short reads raise `shortRead`. */
  sub(n: number, shortRead: ShortReadError): ByteReader {
    return new ByteReader(this.bytes(n), shortRead);
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
}

function checkUint(value: number, bits: 8 | 16 | 32, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 2 ** bits - 1) {
    throw new BgpError(BgpErrorCode.encodeOutOfRange, `${what} ${value} does not fit ${bits} bits unsigned`);
  }
}

/** A growable output buffer. Nested lengths are written with lengthPrefixed8/16. */
export class ByteWriter {
  private buffer = new Uint8Array(64);
  private view = new DataView(this.buffer.buffer);
  private used = 0;

  get length(): number {
    return this.used;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.used + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.used));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number, what = 'u8'): this {
    checkUint(value, 8, what);
    this.reserve(1);
    this.view.setUint8(this.used++, value);
    return this;
  }

  u16(value: number, what = 'u16'): this {
    checkUint(value, 16, what);
    this.reserve(2);
    this.view.setUint16(this.used, value);
    this.used += 2;
    return this;
  }

  u32(value: number, what = 'u32'): this {
    checkUint(value, 32, what);
    this.reserve(4);
    this.view.setUint32(this.used, value);
    this.used += 4;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.reserve(data.length);
    this.buffer.set(data, this.used);
    this.used += data.length;
    return this;
  }

  private lengthPrefixed(size: 1 | 2, body: (w: this) => void, what: string): this {
    const at = this.used;
    this.reserve(size);
    this.used += size;
    body(this);
    const length = this.used - at - size;
    if (size === 1) {
      checkUint(length, 8, what);
      this.view.setUint8(at, length);
    } else {
      checkUint(length, 16, what);
      this.view.setUint16(at, length);
    }
    return this;
  }

  /** Writes a 1-byte length, then whatever `body` writes; the length is patched afterwards. */
  lengthPrefixed8(body: (w: this) => void, what = 'length'): this {
    return this.lengthPrefixed(1, body, what);
  }

  /** Writes a 2-byte length, then whatever `body` writes; the length is patched afterwards. */
  lengthPrefixed16(body: (w: this) => void, what = 'length'): this {
    return this.lengthPrefixed(2, body, what);
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.used);
  }
}
