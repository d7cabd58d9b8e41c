import { BgpError, BgpErrorCode } from '../errors.ts';
import { CeaseSubcode, ErrorCode, MessageType } from './constants.ts';
import { encodeMessage, messageBody } from './header.ts';

/** RFC 4271 §4.5. */
export interface NotificationMessage {
  readonly type: 'notification';
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
  /** RFC 8203 shutdown communication, when the data carries a well-formed one. */
  readonly shutdownMessage?: string;
}

/** RFC 8203 §2: at most 128 bytes of UTF-8 (RFC 9003 allows 255; 128 is what every peer accepts). */
export const MAX_SHUTDOWN_MESSAGE_BYTES = 128;

function carriesShutdownMessage(code: number, subcode: number): boolean {
  return code === ErrorCode.cease && (subcode === CeaseSubcode.administrativeShutdown || subcode === CeaseSubcode.administrativeReset);
}

/** UTF-8 bytes of `text`, cut at a character boundary so that they fit `max` bytes. */
function truncatedUtf8(text: string, max: number): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  // Back off over continuation bytes (10xxxxxx) so no character is cut in half.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.slice(0, end);
}

/** The data field for a Cease with an RFC 8203 shutdown communication. */
export function shutdownData(message: string): Uint8Array {
  const text = truncatedUtf8(message, MAX_SHUTDOWN_MESSAGE_BYTES);
  const out = new Uint8Array(1 + text.length);
  out[0] = text.length;
  out.set(text, 1);
  return out;
}

/**
 * RFC 8538 §3: a Hard Reset carries the NOTIFICATION it stands for in its data — that one's
 * error code, subcode and data — so the receiver still learns why.
 */
export function hardResetData(inner: { readonly code: number; readonly subcode: number; readonly shutdownMessage?: string }): Uint8Array {
  const data = inner.shutdownMessage === undefined ? new Uint8Array(0) : shutdownData(inner.shutdownMessage);
  return Uint8Array.of(inner.code, inner.subcode, ...data);
}

export function decodeNotification(bytes: Uint8Array): NotificationMessage {
  const r = messageBody(bytes, MessageType.notification);
  const code = r.u8();
  const subcode = r.u8();
  const data = r.rest().slice();
  const out: NotificationMessage = { type: 'notification', code, subcode, data };
  // RFC 8538 §3: a Hard Reset wraps the Cease it stands for (code, subcode, data).
  const inner = code === ErrorCode.cease && subcode === CeaseSubcode.hardReset && data.length >= 2 ? { code: data[0]!, subcode: data[1]!, data: data.subarray(2) } : { code, subcode, data };
  const shutdownMessage = carriesShutdownMessage(inner.code, inner.subcode) ? decodeShutdownMessage(inner.data) : undefined;
  return shutdownMessage === undefined ? out : { ...out, shutdownMessage };
}

/** The RFC 8203 length-prefixed UTF-8 text, or undefined when the data is not one. */
function decodeShutdownMessage(data: Uint8Array): string | undefined {
  if (data.length < 1 || data[0]! !== data.length - 1) return undefined;
  try {
    // RFC 8203 §2: invalid UTF-8 is logged as such, never a reason to fail.
    return new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(1));
  } catch {
    return undefined;
  }
}

export function encodeNotification(msg: { readonly code: number; readonly subcode: number; readonly data?: Uint8Array; readonly shutdownMessage?: string }): Uint8Array {
  if (msg.shutdownMessage !== undefined && msg.data !== undefined) {
    throw new BgpError(BgpErrorCode.encodeOutOfRange, 'a NOTIFICATION takes either data or a shutdown message, not both');
  }
  const data = msg.shutdownMessage !== undefined ? shutdownData(msg.shutdownMessage) : (msg.data ?? new Uint8Array(0));
  return encodeMessage(MessageType.notification, (w) => w.u8(msg.code, 'error code').u8(msg.subcode, 'error subcode').bytes(data));
}

/** RFC 4271 §4.4. */
export interface KeepaliveMessage {
  readonly type: 'keepalive';
}

export function decodeKeepalive(bytes: Uint8Array): KeepaliveMessage {
  messageBody(bytes, MessageType.keepalive);
  return { type: 'keepalive' };
}

const KEEPALIVE = encodeMessage(MessageType.keepalive, () => undefined);

export function encodeKeepalive(): Uint8Array {
  return KEEPALIVE.slice();
}

/** RFC 2918 §3. */
export interface RouteRefreshMessage {
  readonly type: 'route-refresh';
  readonly afi: number;
  readonly safi: number;
}

export function decodeRouteRefresh(bytes: Uint8Array): RouteRefreshMessage {
  const r = messageBody(bytes, MessageType.routeRefresh);
  const afi = r.u16();
  r.u8(); // reserved (RFC 7313 subtype; 0 = plain refresh)
  return { type: 'route-refresh', afi, safi: r.u8() };
}

export function encodeRouteRefresh(msg: { readonly afi: number; readonly safi: number }): Uint8Array {
  return encodeMessage(MessageType.routeRefresh, (w) => w.u16(msg.afi, 'AFI').u8(0).u8(msg.safi, 'SAFI'));
}
