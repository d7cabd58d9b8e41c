import { ADDRESS_BITS, type Cidr, type Family } from '../../net/index.ts';
import type { BgpMessageError } from '../errors.ts';
import type { ByteReader, ByteWriter } from './bytes.ts';

/**
 * Reads prefixes in the RFC 4271 §4.3 NLRI form (length in bits, then just enough bytes) until
 * the reader is exhausted. Bits past the prefix length are ignored and cleared, as the RFC says
 * they are irrelevant. `fail` builds the error for a length beyond the family's width or a
 * prefix that runs past the end.
 */
export function decodePrefixes(r: ByteReader, family: Family, fail: (why: string) => BgpMessageError): Cidr[] {
  const bits = ADDRESS_BITS[family];
  const out: Cidr[] = [];
  while (!r.atEnd) {
    const prefixLength = r.u8();
    if (prefixLength > bits) throw fail(`prefix length ${prefixLength} exceeds ${bits} for IPv${family}`);
    const byteCount = Math.ceil(prefixLength / 8);
    if (byteCount > r.remaining) throw fail(`a /${prefixLength} prefix needs ${byteCount} bytes; ${r.remaining} left`);
    const bytes = r.bytes(byteCount);
    let value = 0n;
    for (const b of bytes) value = (value << 8n) | BigInt(b);
    value <<= BigInt(bits - byteCount * 8);
    const hostBits = BigInt(bits - prefixLength);
    const network = (value >> hostBits) << hostBits;
    out.push({ family, network, prefixLength });
  }
  return out;
}

export function encodePrefix(w: ByteWriter, cidr: Cidr): void {
  const bits = ADDRESS_BITS[cidr.family];
  const byteCount = Math.ceil(cidr.prefixLength / 8);
  w.u8(cidr.prefixLength, 'prefix length');
  for (let i = 0; i < byteCount; i++) {
    w.u8(Number((cidr.network >> BigInt(bits - 8 * (i + 1))) & 0xffn));
  }
}

/** Bytes one prefix takes on the wire: used to fill UPDATEs up to the 4096-byte limit. */
export function encodedPrefixSize(cidr: Cidr): number {
  return 1 + Math.ceil(cidr.prefixLength / 8);
}
