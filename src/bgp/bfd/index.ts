/** BFD (RFC 5880, single-hop RFC 5881) for the BGP speaker's peers. */
export { BFD_CONTROL_PORT, BfdDiagnostic, BfdState } from './constants.ts';
export { BfdError, BfdErrorCode, BfdPacketError, BfdPacketErrorCode } from './errors.ts';
export { decodeControlPacket, encodeControlPacket, type BfdControlPacket } from './packet.ts';
export { BfdSession, checkBfdConfig, type BfdConfig, type BfdSessionOptions } from './session.ts';
export { UdpBfdTransport, type BfdLink, type BfdReceiver, type BfdTransport } from './socket.ts';
