/**
 * RFC 5880 §4.1 BFD Control packet codec. Pure: no sockets, no timers. Decoding applies the
 * packet-level reception rules of §6.8.6 and throws only `BfdPacketError` (never a RangeError).
 * Authentication is not supported yet: a packet with the A bit is refused (§6.8.6: "If the A bit
 * is set and no authentication is in use (bfd.AuthType is zero), the packet MUST be discarded").
 */
import { BFD_HEADER_LENGTH, BFD_VERSION, BfdState, type BfdDiagnostic } from './constants.ts';
import { BfdPacketError, BfdPacketErrorCode } from './errors.ts';

export interface BfdControlPacket {
  readonly diagnostic: BfdDiagnostic;
  readonly state: BfdState;
  readonly poll: boolean;
  readonly final: boolean;
  readonly controlPlaneIndependent: boolean;
  readonly demand: boolean;
  readonly detectMult: number;
  readonly myDiscriminator: number;
  readonly yourDiscriminator: number;
  /** Microseconds, as on the wire. */
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly requiredMinEchoRxUs: number;
}

const FLAG = { poll: 0x20, final: 0x10, cpi: 0x08, auth: 0x04, demand: 0x02, multipoint: 0x01 } as const;

function u32(name: string, value: number): number {
  // A broken invariant of our own caller: the packet was built wrongly, not received.
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new TypeError(`BFD ${name} ${value} must be an integer 0..4294967295`);
  return value;
}

/** The 24-byte packet (no Authentication Section). */
export function encodeControlPacket(p: BfdControlPacket): Uint8Array {
  if (!Number.isInteger(p.detectMult) || p.detectMult < 1 || p.detectMult > 255) throw new TypeError(`BFD detectMult ${p.detectMult} must be 1..255`);
  const bytes = new Uint8Array(BFD_HEADER_LENGTH);
  const view = new DataView(bytes.buffer);
  bytes[0] = (BFD_VERSION << 5) | (p.diagnostic & 0x1f);
  bytes[1] =
    (p.state << 6) |
    (p.poll ? FLAG.poll : 0) |
    (p.final ? FLAG.final : 0) |
    (p.controlPlaneIndependent ? FLAG.cpi : 0) |
    (p.demand ? FLAG.demand : 0);
  bytes[2] = p.detectMult;
  bytes[3] = BFD_HEADER_LENGTH;
  view.setUint32(4, u32('myDiscriminator', p.myDiscriminator));
  view.setUint32(8, u32('yourDiscriminator', p.yourDiscriminator));
  view.setUint32(12, u32('desiredMinTxUs', p.desiredMinTxUs));
  view.setUint32(16, u32('requiredMinRxUs', p.requiredMinRxUs));
  view.setUint32(20, u32('requiredMinEchoRxUs', p.requiredMinEchoRxUs));
  return bytes;
}

function fail(code: BfdPacketErrorCode, message: string): never {
  throw new BfdPacketError(code, message);
}

/**
 * Decodes one UDP payload, applying the §6.8.6 rules that need no session: version, length,
 * Detect Mult, Multipoint, My Discriminator, Your Discriminator vs State, A bit.
 */
export function decodeControlPacket(bytes: Uint8Array): BfdControlPacket {
  if (bytes.length < BFD_HEADER_LENGTH) fail(BfdPacketErrorCode.truncated, `BFD Control packet of ${bytes.length} bytes: at least ${BFD_HEADER_LENGTH} are needed`);
  // Pooled Buffers do not start at offset 0 of their ArrayBuffer.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = view.getUint8(0);
  const b1 = view.getUint8(1);
  const version = b0 >> 5;
  if (version !== BFD_VERSION) fail(BfdPacketErrorCode.badVersion, `BFD version ${version}: only ${BFD_VERSION} is supported (RFC 5880 §6.8.6)`);
  const auth = (b1 & FLAG.auth) !== 0;
  const length = view.getUint8(3);
  // §6.8.6: "If the Length field is less than the minimum correct value (24 if the A bit is
  // clear, or 26 if the A bit is set), the packet MUST be discarded." and "If the Length field
  // is greater than the payload of the encapsulating protocol, the packet MUST be discarded."
  const minimum = auth ? BFD_HEADER_LENGTH + 2 : BFD_HEADER_LENGTH;
  if (length < minimum || length > bytes.length) fail(BfdPacketErrorCode.badLength, `BFD Length ${length}: must be ${minimum}..${bytes.length} (the UDP payload)`);
  if (auth) fail(BfdPacketErrorCode.authenticationUnsupported, 'BFD packet with the A bit: authentication is not configured, so it is discarded (RFC 5880 §6.8.6)');
  const detectMult = view.getUint8(2);
  if (detectMult === 0) fail(BfdPacketErrorCode.zeroDetectMult, 'BFD Detect Mult 0: must be 1..255 (RFC 5880 §6.8.6)');
  if ((b1 & FLAG.multipoint) !== 0) fail(BfdPacketErrorCode.multipoint, 'BFD packet with the M bit: multipoint is reserved and must be 0 (RFC 5880 §6.8.6)');
  const myDiscriminator = view.getUint32(4);
  const yourDiscriminator = view.getUint32(8);
  const state = (b1 >> 6) as BfdState;
  if (myDiscriminator === 0) fail(BfdPacketErrorCode.zeroMyDiscriminator, 'BFD My Discriminator 0: must be non-zero (RFC 5880 §6.8.6)');
  if (yourDiscriminator === 0 && state !== BfdState.down && state !== BfdState.adminDown) {
    fail(BfdPacketErrorCode.zeroYourDiscriminator, 'BFD Your Discriminator 0 is allowed only in state Down or AdminDown (RFC 5880 §6.8.6)');
  }
  return {
    diagnostic: (b0 & 0x1f) as BfdDiagnostic,
    state,
    poll: (b1 & FLAG.poll) !== 0,
    final: (b1 & FLAG.final) !== 0,
    controlPlaneIndependent: (b1 & FLAG.cpi) !== 0,
    demand: (b1 & FLAG.demand) !== 0,
    detectMult,
    myDiscriminator,
    yourDiscriminator,
    desiredMinTxUs: view.getUint32(12),
    requiredMinRxUs: view.getUint32(16),
    requiredMinEchoRxUs: view.getUint32(20),
  };
}
