import { ipFromBytes, type Cidr, type IpAddress } from '../../net/index.ts';
import { BgpMessageError, ErrorTreatment } from '../errors.ts';
import { ByteReader } from './bytes.ts';
import { Afi, AsPathSegmentType, AttrFlag, AttrType, ErrorCode, Origin, Safi, UpdateErrorSubcode } from './constants.ts';
import { decodePrefixes } from './nlri.ts';

export interface AsPathSegment {
  readonly type: AsPathSegmentType;
  readonly asns: readonly number[];
}

/** RFC 8092 §3: three 4-octet fields. */
export interface LargeCommunity {
  readonly globalAdministrator: number;
  readonly localData1: number;
  readonly localData2: number;
}

/** RFC 4760 §3, for IPv4/IPv6 unicast. IPv6 next hops: global, then optionally link-local (RFC 2545 §3). */
export interface MpReachNlri {
  readonly afi: number;
  readonly safi: number;
  readonly nextHops: readonly IpAddress[];
  readonly nlri: readonly Cidr[];
}

/** RFC 4760 §4. */
export interface MpUnreachNlri {
  readonly afi: number;
  readonly safi: number;
  readonly withdrawn: readonly Cidr[];
}

/** An attribute kept as bytes: unrecognised optional transitive ones, and AGGREGATOR & co. */
export interface RawAttribute {
  readonly flags: number;
  readonly typeCode: number;
  readonly value: Uint8Array;
}

export interface PathAttributes {
  readonly origin?: Origin;
  readonly asPath?: readonly AsPathSegment[];
  /** RFC 6793 §3: the real path, sent beside a 2-octet AS_PATH that holds AS_TRANS. */
  readonly as4Path?: readonly AsPathSegment[];
  readonly nextHop?: IpAddress;
  readonly multiExitDisc?: number;
  readonly localPref?: number;
  readonly atomicAggregate?: boolean;
  /** RFC 1997 communities, each a 32-bit number (ASN << 16 | value). */
  readonly communities?: readonly number[];
  readonly largeCommunities?: readonly LargeCommunity[];
  readonly mpReach?: MpReachNlri;
  readonly mpUnreach?: MpUnreachNlri;
  readonly raw?: readonly RawAttribute[];
}

export interface AttributeContext {
  /** RFC 6793: AS numbers in AS_PATH are 4 octets once both sides sent the capability. */
  readonly fourOctetAs: boolean;
  /** From an eBGP peer, LOCAL_PREF is discarded (RFC 7606 §7.5). */
  readonly external?: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Optional/transitive bits each known attribute must carry (RFC 4271 §5, RFC 4760, RFC 8092). */
const EXPECTED_FLAGS: Readonly<Record<number, number>> = {
  [AttrType.origin]: AttrFlag.transitive,
  [AttrType.asPath]: AttrFlag.transitive,
  [AttrType.nextHop]: AttrFlag.transitive,
  [AttrType.multiExitDisc]: AttrFlag.optional,
  [AttrType.localPref]: AttrFlag.transitive,
  [AttrType.atomicAggregate]: AttrFlag.transitive,
  [AttrType.aggregator]: AttrFlag.optional | AttrFlag.transitive,
  [AttrType.communities]: AttrFlag.optional | AttrFlag.transitive,
  [AttrType.mpReachNlri]: AttrFlag.optional,
  [AttrType.mpUnreachNlri]: AttrFlag.optional,
  [AttrType.as4Path]: AttrFlag.optional | AttrFlag.transitive,
  [AttrType.as4Aggregator]: AttrFlag.optional | AttrFlag.transitive,
  [AttrType.largeCommunity]: AttrFlag.optional | AttrFlag.transitive,
};

/** The attribute as it appeared on the wire: the NOTIFICATION data for most UPDATE errors. */
function attributeBytes(flags: number, typeCode: number, value: Uint8Array): Uint8Array {
  const extended = (flags & AttrFlag.extendedLength) !== 0;
  const head = extended
    ? [flags, typeCode, value.length >> 8, value.length & 0xff]
    : [flags, typeCode, value.length & 0xff];
  const out = new Uint8Array(head.length + value.length);
  out.set(head);
  out.set(value, head.length);
  return out;
}

export function updateError(subcode: number, data: Uint8Array, treatment: ErrorTreatment, message: string): BgpMessageError {
  return new BgpMessageError(ErrorCode.updateMessage, subcode, data, treatment, message);
}

function decodeAsPath(value: Uint8Array, asnSize: 2 | 4, name: string, fail: (why: string) => BgpMessageError): AsPathSegment[] {
  const r = new ByteReader(value, () => fail(`${name} segment runs past the attribute`));
  const segments: AsPathSegment[] = [];
  while (!r.atEnd) {
    const type = r.u8();
    const count = r.u8();
    // RFC 7606 §7.2: an unknown segment type or an empty segment makes the path malformed.
    if (type !== AsPathSegmentType.asSet && type !== AsPathSegmentType.asSequence) throw fail(`${name} segment type ${type} is not 1 (set) or 2 (sequence)`);
    if (count === 0) throw fail(`${name} has an empty segment`);
    const asns: number[] = [];
    for (let i = 0; i < count; i++) asns.push(asnSize === 4 ? r.u32() : r.u16());
    segments.push({ type, asns });
  }
  return segments;
}

function decodeMpFamily(afi: number, safi: number): 4 | 6 | undefined {
  if (safi !== Safi.unicast) return undefined;
  return afi === Afi.ipv4 ? 4 : afi === Afi.ipv6 ? 6 : undefined;
}

function decodeMpReach(value: Uint8Array, fail: (why: string) => BgpMessageError): MpReachNlri | undefined {
  const r = new ByteReader(value, () => fail('MP_REACH_NLRI is shorter than its fields'));
  const afi = r.u16();
  const safi = r.u8();
  const family = decodeMpFamily(afi, safi);
  // A family we did not offer is ignored rather than fatal (RFC 4760 §7 leaves it to us).
  if (family === undefined) return undefined;
  const nextHopLength = r.u8();
  const nextHopBytes = r.bytes(nextHopLength);
  const allowed = family === 4 ? [4] : [16, 32];
  if (!allowed.includes(nextHopLength)) {
    throw fail(`MP_REACH_NLRI next hop has ${nextHopLength} bytes; IPv${family} allows ${allowed.join(' or ')}`);
  }
  const nextHops: IpAddress[] = [];
  for (let at = 0; at < nextHopLength; at += family === 4 ? 4 : 16) {
    nextHops.push(ipFromBytes(nextHopBytes.subarray(at, at + (family === 4 ? 4 : 16))));
  }
  r.u8(); // reserved (was the SNPA count in RFC 2858)
  return { afi, safi, nextHops, nlri: decodePrefixes(r, family, fail) };
}

function decodeMpUnreach(value: Uint8Array, fail: (why: string) => BgpMessageError): MpUnreachNlri | undefined {
  const r = new ByteReader(value, () => fail('MP_UNREACH_NLRI is shorter than its fields'));
  const afi = r.u16();
  const safi = r.u8();
  const family = decodeMpFamily(afi, safi);
  if (family === undefined) return undefined;
  return { afi, safi, withdrawn: decodePrefixes(r, family, fail) };
}

export interface DecodedAttributes {
  readonly attributes: PathAttributes;
  /** RFC 7606 errors that did not reset the session (treat-as-withdraw, attribute-discard). */
  readonly problems: readonly BgpMessageError[];
}

/**
 * Decodes the path attributes of an UPDATE (RFC 4271 §4.3) with RFC 7606 error handling:
 * session-reset errors are thrown; treat-as-withdraw and attribute-discard ones are returned in
 * `problems` so that the rest of the UPDATE is still understood.
 */
export function decodeAttributes(bytes: Uint8Array, ctx: AttributeContext): DecodedAttributes {
  const out: Mutable<PathAttributes> = {};
  const raw: RawAttribute[] = [];
  const problems: BgpMessageError[] = [];
  const seen = new Set<number>();
  const r = new ByteReader(bytes, () =>
    updateError(UpdateErrorSubcode.malformedAttributeList, new Uint8Array(0), ErrorTreatment.sessionReset, 'an attribute header runs past the attribute list'),
  );
  while (!r.atEnd) {
    const headerLength = (r.peekU8() & AttrFlag.extendedLength) !== 0 ? 4 : 3;
    if (r.remaining < headerLength) {
      // RFC 7606 §4: "fewer than three octets remain (or fewer than four octets, if the Attribute
      // Flags field has the Extended Length bit set) when beginning to parse the attribute" —
      // "the 'treat-as-withdraw' approach MUST be used".
      problems.push(updateError(UpdateErrorSubcode.malformedAttributeList, new Uint8Array(0), ErrorTreatment.treatAsWithdraw, `the attribute list ends with ${r.remaining} stray byte(s), too few for an attribute header (${headerLength})`));
      break;
    }
    const flags = r.u8();
    const typeCode = r.u8();
    const length = (flags & AttrFlag.extendedLength) !== 0 ? r.u16() : r.u8();
    if (length > r.remaining) {
      // RFC 7606 §4: an attribute overrunning the list leaves the rest unparseable, but the NLRI
      // (located by the list's own length) is intact, so the routes are withdrawn, not the session.
      problems.push(updateError(UpdateErrorSubcode.attributeLengthError, new Uint8Array(0), ErrorTreatment.treatAsWithdraw, `attribute ${typeCode} says ${length} bytes; ${r.remaining} are left`));
      break;
    }
    const value = r.bytes(length);
    const wire = (): Uint8Array => attributeBytes(flags, typeCode, value);
    const isMp = typeCode === AttrType.mpReachNlri || typeCode === AttrType.mpUnreachNlri;
    if (seen.has(typeCode)) {
      // RFC 7606 §3 (g): a repeated MP attribute is fatal; other repeats are dropped quietly.
      if (isMp) throw updateError(UpdateErrorSubcode.malformedAttributeList, new Uint8Array(0), ErrorTreatment.sessionReset, `attribute ${typeCode} appears twice`);
      continue;
    }
    seen.add(typeCode);
    const withdraw = (subcode: number, why: string): void => {
      problems.push(updateError(subcode, wire(), ErrorTreatment.treatAsWithdraw, why));
    };
    const expected = EXPECTED_FLAGS[typeCode];
    if (expected !== undefined && (flags & (AttrFlag.optional | AttrFlag.transitive)) !== expected) {
      const why = `attribute ${typeCode} has flags 0x${flags.toString(16)}; expected optional/transitive bits 0x${expected.toString(16)}`;
      if (isMp) throw updateError(UpdateErrorSubcode.attributeFlagsError, wire(), ErrorTreatment.sessionReset, why);
      withdraw(UpdateErrorSubcode.attributeFlagsError, why);
      continue;
    }
    const lengthIs = (n: number, name: string): boolean => {
      if (length === n) return true;
      withdraw(UpdateErrorSubcode.attributeLengthError, `${name} has ${length} bytes; it must have ${n}`);
      return false;
    };
    const v = new ByteReader(value, () => updateError(UpdateErrorSubcode.attributeLengthError, wire(), ErrorTreatment.treatAsWithdraw, `attribute ${typeCode} is too short`));
    switch (typeCode) {
      case AttrType.origin: {
        if (!lengthIs(1, 'ORIGIN')) break;
        const origin = v.u8();
        if (origin === Origin.igp || origin === Origin.egp || origin === Origin.incomplete) out.origin = origin;
        else withdraw(UpdateErrorSubcode.invalidOriginAttribute, `ORIGIN ${origin} is not 0, 1 or 2`);
        break;
      }
      case AttrType.asPath:
      case AttrType.as4Path: {
        const name = typeCode === AttrType.asPath ? 'AS_PATH' : 'AS4_PATH';
        const size = typeCode === AttrType.asPath && !ctx.fourOctetAs ? 2 : 4;
        try {
          const segments = decodeAsPath(value, size, name, (why) => updateError(UpdateErrorSubcode.malformedAsPath, new Uint8Array(0), ErrorTreatment.treatAsWithdraw, why));
          if (typeCode === AttrType.asPath) out.asPath = segments;
          // RFC 6793 §4.2.2: between 4-octet speakers an AS4_PATH is meaningless and is discarded.
          else if (!ctx.fourOctetAs) out.as4Path = segments;
        } catch (e) {
          if (!(e instanceof BgpMessageError)) throw e;
          // RFC 6793 §6: a malformed AS4_PATH is discarded; a malformed AS_PATH withdraws.
          problems.push(typeCode === AttrType.asPath ? e : updateError(e.subcode, e.data, ErrorTreatment.attributeDiscard, e.message));
        }
        break;
      }
      case AttrType.nextHop: {
        if (!lengthIs(4, 'NEXT_HOP')) break;
        const nextHop = ipFromBytes(value);
        // RFC 7606 §7.3: a semantically wrong next hop is treat-as-withdraw.
        if (nextHop.value === 0n || nextHop.value >= 0xe0000000n) withdraw(UpdateErrorSubcode.invalidNextHopAttribute, `NEXT_HOP ${value.join('.')} is not a unicast address`);
        else out.nextHop = nextHop;
        break;
      }
      case AttrType.multiExitDisc:
        if (lengthIs(4, 'MULTI_EXIT_DISC')) out.multiExitDisc = v.u32();
        break;
      case AttrType.localPref:
        if (ctx.external === true) break; // RFC 7606 §7.5: ignored from eBGP peers.
        if (lengthIs(4, 'LOCAL_PREF')) out.localPref = v.u32();
        break;
      case AttrType.atomicAggregate:
        if (length === 0) out.atomicAggregate = true;
        else problems.push(updateError(UpdateErrorSubcode.attributeLengthError, wire(), ErrorTreatment.attributeDiscard, `ATOMIC_AGGREGATE has ${length} bytes; it must have 0`));
        break;
      case AttrType.communities: {
        if (length === 0 || length % 4 !== 0) {
          withdraw(UpdateErrorSubcode.optionalAttributeError, `COMMUNITIES has ${length} bytes; it must be a non-zero multiple of 4 (RFC 7606 §7.8)`);
          break;
        }
        const communities: number[] = [];
        while (!v.atEnd) communities.push(v.u32());
        out.communities = communities;
        break;
      }
      case AttrType.largeCommunity: {
        if (length === 0 || length % 12 !== 0) {
          withdraw(UpdateErrorSubcode.optionalAttributeError, `LARGE_COMMUNITY has ${length} bytes; it must be a non-zero multiple of 12 (RFC 8092 §6)`);
          break;
        }
        const large: LargeCommunity[] = [];
        while (!v.atEnd) large.push({ globalAdministrator: v.u32(), localData1: v.u32(), localData2: v.u32() });
        out.largeCommunities = large;
        break;
      }
      case AttrType.mpReachNlri:
      case AttrType.mpUnreachNlri: {
        // The NLRI inside cannot be trusted once the attribute is malformed, so nothing can be
        // withdrawn reliably: session reset (RFC 7606 §5.3).
        const fail = (why: string): BgpMessageError => updateError(UpdateErrorSubcode.optionalAttributeError, wire(), ErrorTreatment.sessionReset, why);
        if (typeCode === AttrType.mpReachNlri) {
          const mp = decodeMpReach(value, fail);
          if (mp !== undefined) out.mpReach = mp;
        } else {
          const mp = decodeMpUnreach(value, fail);
          if (mp !== undefined) out.mpUnreach = mp;
        }
        break;
      }
      case AttrType.aggregator:
      case AttrType.as4Aggregator: {
        const want = typeCode === AttrType.aggregator && !ctx.fourOctetAs ? 6 : 8;
        // RFC 7606 §7.7: a wrong-length AGGREGATOR is discarded, the route kept.
        if (length === want) raw.push({ flags, typeCode, value: value.slice() });
        else problems.push(updateError(UpdateErrorSubcode.attributeLengthError, wire(), ErrorTreatment.attributeDiscard, `AGGREGATOR has ${length} bytes; expected ${want}`));
        break;
      }
      default:
        if ((flags & AttrFlag.optional) === 0) {
          // RFC 4271 §6.3: an unrecognised well-known attribute is a session error.
          throw updateError(UpdateErrorSubcode.unrecognizedWellKnownAttribute, wire(), ErrorTreatment.sessionReset, `well-known attribute ${typeCode} is not recognised`);
        }
        // RFC 4271 §5: unrecognised optional transitive attributes are passed on with the Partial
        // bit set; non-transitive ones are "quietly ignored".
        if ((flags & AttrFlag.transitive) !== 0) raw.push({ flags: flags | AttrFlag.partial, typeCode, value: value.slice() });
    }
  }
  if (raw.length > 0) out.raw = raw;
  return { attributes: out, problems };
}

/** An RFC 1997 community `asn:value` as its 32-bit wire number. */
export function community(asn: number, value: number): number {
  return (asn & 0xffff) * 0x10000 + (value & 0xffff);
}
