import { BgpError, BgpErrorCode, BgpMessageError, ErrorTreatment } from '../errors.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import {
  ErrorCode,
  HEADER_LENGTH,
  HeaderErrorSubcode,
  MARKER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
} from './constants.ts';

/** RFC 4271 §6.1: the smallest legal length of each message type (KEEPALIVE: exactly 19). */
const MIN_LENGTH: Record<MessageType, number> = {
  [MessageType.open]: 29,
  [MessageType.update]: 23,
  [MessageType.notification]: 21,
  [MessageType.keepalive]: 19,
  [MessageType.routeRefresh]: 23,
};
/** Message types with one fixed length (RFC 4271 §4.4, RFC 2918 §3). */
const EXACT_LENGTH: Partial<Record<MessageType, number>> = {
  [MessageType.keepalive]: 19,
  [MessageType.routeRefresh]: 23,
};

function u16Bytes(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}

function headerError(subcode: number, data: Uint8Array, message: string): BgpMessageError {
  return new BgpMessageError(ErrorCode.messageHeader, subcode, data, ErrorTreatment.sessionReset, message);
}

function isMessageType(type: number): type is MessageType {
  return type >= MessageType.open && type <= MessageType.routeRefresh;
}

export interface MessageHeader {
  readonly length: number;
  readonly type: MessageType;
}

/**
 * Checks the 19-byte header at the start of `bytes`: marker, length bounds for the type, and a
 * known type. Throws the RFC 4271 §6.1 Message Header Error otherwise.
 */
export function decodeHeader(bytes: Uint8Array): MessageHeader {
  if (bytes.length < HEADER_LENGTH) {
    throw headerError(
      HeaderErrorSubcode.badMessageLength,
      new Uint8Array(0),
      `a BGP header has ${HEADER_LENGTH} bytes; got ${bytes.length}`,
    );
  }
  for (let i = 0; i < MARKER_LENGTH; i++) {
    // RFC 4271 §6.1: the marker "MUST be all ones"; anything else means we lost framing.
    if (bytes[i] !== 0xff) {
      throw headerError(HeaderErrorSubcode.connectionNotSynchronized, new Uint8Array(0), 'the marker is not all ones');
    }
  }
  const length = (bytes[16]! << 8) | bytes[17]!;
  const type = bytes[18]!;
  if (length < HEADER_LENGTH || length > MAX_MESSAGE_LENGTH) {
    throw headerError(
      HeaderErrorSubcode.badMessageLength,
      u16Bytes(length),
      `message length ${length} is outside ${HEADER_LENGTH}..${MAX_MESSAGE_LENGTH}`,
    );
  }
  if (!isMessageType(type)) {
    throw headerError(HeaderErrorSubcode.badMessageType, Uint8Array.of(type), `message type ${type} is not one of 1..5`);
  }
  const exact = EXACT_LENGTH[type];
  if (length < MIN_LENGTH[type] || (exact !== undefined && length !== exact)) {
    throw headerError(
      HeaderErrorSubcode.badMessageLength,
      u16Bytes(length),
      `message type ${type} cannot be ${length} bytes long (${exact !== undefined ? `must be ${exact}` : `at least ${MIN_LENGTH[type]}`})`,
    );
  }
  return { length, type };
}

/**
 * Checks a whole message's header and returns a reader over its body. `expected` guards against a
 * caller handing the OPEN decoder an UPDATE.
 */
export function messageBody(bytes: Uint8Array, expected: MessageType): ByteReader {
  const header = decodeHeader(bytes);
  if (header.length !== bytes.length) {
    throw headerError(
      HeaderErrorSubcode.badMessageLength,
      u16Bytes(header.length),
      `the header says ${header.length} bytes but the message has ${bytes.length}`,
    );
  }
  if (header.type !== expected) {
    throw headerError(HeaderErrorSubcode.badMessageType, Uint8Array.of(header.type), `expected message type ${expected}, got ${header.type}`);
  }
  return new ByteReader(bytes.subarray(HEADER_LENGTH), (need, have) =>
    headerError(HeaderErrorSubcode.badMessageLength, u16Bytes(header.length), `message body ends early (${need} bytes wanted, ${have} left)`),
  );
}

const MARKER = new Uint8Array(MARKER_LENGTH).fill(0xff);

/** Frames a message: marker, length, type, then whatever `body` writes. */
export function encodeMessage(type: MessageType, body: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  w.bytes(MARKER);
  w.lengthPrefixed16(() => {
    w.u8(type);
    body(w);
  });
  const out = w.finish();
  // The 16-bit field holds the length after the marker; the real length includes the marker.
  const length = out.length;
  if (length > MAX_MESSAGE_LENGTH) {
    throw new BgpError(BgpErrorCode.messageTooLong, `message type ${type} would be ${length} bytes; BGP allows ${MAX_MESSAGE_LENGTH}`);
  }
  out[16] = length >> 8;
  out[17] = length & 0xff;
  return out;
}

/**
 * Splits a TCP byte stream into whole BGP messages. Bytes may arrive in any chunking; a message
 * is returned once all of it is here. A bad header throws (the stream cannot be re-synchronised,
 * so the session must be reset).
 */
export class MessageFramer {
  private pending: Uint8Array = new Uint8Array(0);

  /** Bytes received but not yet part of a whole message. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    let data: Uint8Array;
    if (this.pending.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.pending.length + chunk.length);
      data.set(this.pending);
      data.set(chunk, this.pending.length);
    }
    const messages: Uint8Array[] = [];
    let at = 0;
    while (data.length - at >= HEADER_LENGTH) {
      const { length } = decodeHeader(data.subarray(at, at + HEADER_LENGTH));
      if (data.length - at < length) break;
      // A copy, so a kept message does not pin the whole socket chunk in memory.
      messages.push(data.slice(at, at + length));
      at += length;
    }
    this.pending = data.slice(at);
    return messages;
  }
}
