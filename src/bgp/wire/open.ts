import { formatIp, tryParseIp } from '../../net/index.ts';
import { BgpError, BgpErrorCode, BgpMessageError, ErrorTreatment } from '../errors.ts';
import { ByteReader, type ByteWriter } from './bytes.ts';
import {
  AS_TRANS,
  BGP_VERSION,
  CapabilityCode,
  ErrorCode,
  MessageType,
  OpenErrorSubcode,
  OptionalParameterType,
} from './constants.ts';
import { encodeMessage, messageBody } from './header.ts';

/** One family in the graceful restart capability (RFC 4724 §3). */
export interface GracefulRestartFamily {
  readonly afi: number;
  readonly safi: number;
  /** The F bit: forwarding state for this family was kept across the restart. */
  readonly forwardingPreserved: boolean;
}

/** RFC 5492 capabilities. Ones we do not know are kept as raw bytes so they can be logged. */
export type Capability =
  | { readonly kind: 'multiprotocol'; readonly afi: number; readonly safi: number }
  | { readonly kind: 'route-refresh' }
  | { readonly kind: 'four-octet-as'; readonly asn: number }
  | {
      readonly kind: 'graceful-restart';
      /** The R bit: the sender has restarted (RFC 4724 §3). */
      readonly restarting: boolean;
      /** The N bit: graceful restart also covers NOTIFICATIONs (RFC 8538 §2). */
      readonly notification: boolean;
      readonly restartTimeSeconds: number;
      readonly families: readonly GracefulRestartFamily[];
    }
  | { readonly kind: 'unknown'; readonly code: number; readonly value: Uint8Array };

/** RFC 4271 §4.2. */
export interface OpenMessage {
  readonly type: 'open';
  readonly version: number;
  /** The 2-octet "My Autonomous System" field: AS_TRANS when the real ASN needs 4 octets. */
  readonly myAutonomousSystem: number;
  readonly holdTimeSeconds: number;
  /** BGP Identifier as dotted IPv4 text. */
  readonly bgpIdentifier: string;
  readonly capabilities: readonly Capability[];
}

function openError(subcode: number, data: Uint8Array, message: string): BgpMessageError {
  return new BgpMessageError(ErrorCode.openMessage, subcode, data, ErrorTreatment.sessionReset, message);
}

function capabilityError(code: number, message: string): BgpMessageError {
  // RFC 4271 has no subcode for a malformed capability; 0 is "unspecific".
  return openError(0, Uint8Array.of(code), message);
}

function decodeCapability(code: number, value: Uint8Array): Capability {
  const r = new ByteReader(value, () => capabilityError(code, `capability ${code} is too short`));
  switch (code) {
    case CapabilityCode.multiprotocol: {
      if (value.length !== 4) throw capabilityError(code, `multiprotocol capability has ${value.length} bytes; it must have 4`);
      const afi = r.u16();
      r.u8(); // reserved
      return { kind: 'multiprotocol', afi, safi: r.u8() };
    }
    case CapabilityCode.routeRefresh:
      if (value.length !== 0) throw capabilityError(code, `route refresh capability has ${value.length} bytes; it must have 0`);
      return { kind: 'route-refresh' };
    case CapabilityCode.fourOctetAs:
      if (value.length !== 4) throw capabilityError(code, `four-octet AS capability has ${value.length} bytes; it must have 4`);
      return { kind: 'four-octet-as', asn: r.u32() };
    case CapabilityCode.gracefulRestart: {
      if (value.length < 2 || (value.length - 2) % 4 !== 0) {
        throw capabilityError(code, `graceful restart capability has ${value.length} bytes; it must have 2 + 4n`);
      }
      const flagsAndTime = r.u16();
      const families: GracefulRestartFamily[] = [];
      while (!r.atEnd) {
        const afi = r.u16();
        const safi = r.u8();
        families.push({ afi, safi, forwardingPreserved: (r.u8() & 0x80) !== 0 });
      }
      return {
        kind: 'graceful-restart',
        restarting: (flagsAndTime & 0x8000) !== 0,
        notification: (flagsAndTime & 0x4000) !== 0,
        restartTimeSeconds: flagsAndTime & 0x0fff,
        families,
      };
    }
    default:
      return { kind: 'unknown', code, value: value.slice() };
  }
}

function encodeCapability(w: ByteWriter, c: Capability): void {
  switch (c.kind) {
    case 'multiprotocol':
      w.u8(CapabilityCode.multiprotocol).u8(4).u16(c.afi, 'AFI').u8(0).u8(c.safi, 'SAFI');
      return;
    case 'route-refresh':
      w.u8(CapabilityCode.routeRefresh).u8(0);
      return;
    case 'four-octet-as':
      w.u8(CapabilityCode.fourOctetAs).u8(4).u32(c.asn, 'ASN');
      return;
    case 'graceful-restart':
      if (c.restartTimeSeconds > 0x0fff) {
        throw new BgpError(BgpErrorCode.encodeOutOfRange, `restart time ${c.restartTimeSeconds} s exceeds 4095 (12 bits, RFC 4724 §3)`);
      }
      w.u8(CapabilityCode.gracefulRestart).lengthPrefixed8(() => {
        w.u16((c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | c.restartTimeSeconds);
        for (const f of c.families) w.u16(f.afi, 'AFI').u8(f.safi, 'SAFI').u8(f.forwardingPreserved ? 0x80 : 0);
      }, 'graceful restart capability length');
      return;
    case 'unknown':
      w.u8(c.code, 'capability code').lengthPrefixed8(() => w.bytes(c.value), 'capability length');
      return;
  }
}

/** Decodes a whole OPEN message (header included). */
export function decodeOpen(bytes: Uint8Array): OpenMessage {
  const r = messageBody(bytes, MessageType.open);
  const version = r.u8();
  if (version !== BGP_VERSION) {
    // RFC 4271 §6.2: the data is "the largest locally-supported version number" (2 octets).
    throw openError(OpenErrorSubcode.unsupportedVersionNumber, Uint8Array.of(0, BGP_VERSION), `BGP version ${version}; only 4 is spoken`);
  }
  const myAutonomousSystem = r.u16();
  const holdTimeSeconds = r.u16();
  if (holdTimeSeconds === 1 || holdTimeSeconds === 2) {
    // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or two seconds."
    throw openError(OpenErrorSubcode.unacceptableHoldTime, new Uint8Array(0), `hold time ${holdTimeSeconds} s; it must be 0 or at least 3`);
  }
  const identifier = r.u32();
  if (identifier === 0) {
    // RFC 6286 §2.1: the identifier is a non-zero 4-octet number.
    throw openError(OpenErrorSubcode.badBgpIdentifier, new Uint8Array(0), 'BGP identifier 0.0.0.0 is not allowed');
  }
  const paramsLength = r.u8();
  if (paramsLength !== r.remaining) {
    throw openError(0, new Uint8Array(0), `optional parameters length ${paramsLength} but ${r.remaining} bytes follow`);
  }
  const capabilities: Capability[] = [];
  while (!r.atEnd) {
    const paramType = r.u8();
    const paramLength = r.u8();
    const param = r.sub(paramLength, () => openError(0, new Uint8Array(0), 'an optional parameter runs past the message'));
    if (paramType !== OptionalParameterType.capabilities) {
      // RFC 9072 extended parameters (type 255) fall here too: we do not send or accept them.
      throw openError(OpenErrorSubcode.unsupportedOptionalParameter, new Uint8Array(0), `optional parameter type ${paramType} is not supported (only 2, capabilities)`);
    }
    while (!param.atEnd) {
      const code = param.u8();
      const length = param.u8();
      const value = param.bytes(length);
      capabilities.push(decodeCapability(code, value));
    }
  }
  return {
    type: 'open',
    version,
    myAutonomousSystem,
    holdTimeSeconds,
    bgpIdentifier: formatIp({ family: 4, value: BigInt(identifier) }),
    capabilities,
  };
}

/** Encodes an OPEN message. All capabilities go in one optional parameter, as BIRD and FRR do. */
export function encodeOpen(msg: Omit<OpenMessage, 'type' | 'version'> & { readonly version?: number }): Uint8Array {
  const id = tryParseIp(msg.bgpIdentifier);
  if (id?.family !== 4 || id.value === 0n) {
    throw new BgpError(BgpErrorCode.encodeOutOfRange, `BGP identifier "${msg.bgpIdentifier}" must be a non-zero IPv4 address`);
  }
  return encodeMessage(MessageType.open, (w) => {
    w.u8(msg.version ?? BGP_VERSION).u16(msg.myAutonomousSystem, 'My Autonomous System').u16(msg.holdTimeSeconds, 'hold time');
    w.u32(Number(id.value));
    w.lengthPrefixed8(() => {
      if (msg.capabilities.length === 0) return;
      w.u8(OptionalParameterType.capabilities).lengthPrefixed8(() => {
        for (const c of msg.capabilities) encodeCapability(w, c);
      }, 'capabilities parameter length');
    }, 'optional parameters length');
  });
}

/** The My Autonomous System field for `asn`: itself if it fits 2 octets, else AS_TRANS (RFC 6793 §4.1). */
export function twoOctetAsn(asn: number): number {
  return asn > 0xffff ? AS_TRANS : asn;
}

/** The sender's real ASN: from the four-octet AS capability when present (RFC 6793 §4.1). */
export function senderAsn(open: OpenMessage): number {
  for (const c of open.capabilities) if (c.kind === 'four-octet-as') return c.asn;
  return open.myAutonomousSystem;
}

export function findCapability<K extends Capability['kind']>(
  open: OpenMessage,
  kind: K,
): Extract<Capability, { kind: K }> | undefined {
  return open.capabilities.find((c): c is Extract<Capability, { kind: K }> => c.kind === kind);
}
