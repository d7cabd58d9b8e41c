import { ipToBytes, type Cidr } from '../../net/index.ts';
import { BgpMessageError, ErrorTreatment } from '../errors.ts';
import { ByteWriter } from './bytes.ts';
import { AS_TRANS, AttrFlag, AttrType, MessageType, UpdateErrorSubcode, type AsPathSegmentType } from './constants.ts';
import { decodeAttributes, updateError, type AsPathSegment, type AttributeContext, type PathAttributes } from './attributes.ts';
import { encodeMessage, messageBody } from './header.ts';
import { decodePrefixes, encodePrefix } from './nlri.ts';

/** RFC 4271 §4.3. IPv4 routes sit in `withdrawn`/`nlri`; other families in MP attributes. */
export interface UpdateMessage {
  readonly type: 'update';
  readonly withdrawn: readonly Cidr[];
  readonly attributes: PathAttributes;
  readonly nlri: readonly Cidr[];
  /**
   * RFC 7606 errors that keep the session up. If any is treat-as-withdraw, every prefix in
   * `nlri` and `attributes.mpReach` must be handled as withdrawn.
   */
  readonly problems: readonly BgpMessageError[];
}

/** True when the UPDATE's announced routes must be handled as withdrawals (RFC 7606 §2). */
export function isTreatAsWithdraw(update: UpdateMessage): boolean {
  return update.problems.some((p) => p.treatment === ErrorTreatment.treatAsWithdraw);
}

/** RFC 4724 §2: an empty UPDATE (IPv4) or one with only an empty MP_UNREACH_NLRI marks End-of-RIB. */
export function isEndOfRib(update: UpdateMessage): boolean {
  if (update.withdrawn.length > 0 || update.nlri.length > 0) return false;
  const { mpUnreach, ...others } = update.attributes;
  if (Object.keys(others).length > 0) return false;
  return mpUnreach === undefined || mpUnreach.withdrawn.length === 0;
}

function malformed(why: string): BgpMessageError {
  return updateError(UpdateErrorSubcode.malformedAttributeList, new Uint8Array(0), ErrorTreatment.sessionReset, why);
}

function invalidNetwork(why: string): BgpMessageError {
  // RFC 7606 §5.3: NLRI that cannot be parsed cannot be withdrawn either: session reset.
  return updateError(UpdateErrorSubcode.invalidNetworkField, new Uint8Array(0), ErrorTreatment.sessionReset, why);
}

/** Decodes a whole UPDATE message (header included). Session-fatal errors are thrown. */
export function decodeUpdate(bytes: Uint8Array, ctx: AttributeContext): UpdateMessage {
  const r = messageBody(bytes, MessageType.update);
  const withdrawnLength = r.u16();
  if (withdrawnLength + 2 > r.remaining) throw malformed(`withdrawn routes length ${withdrawnLength} overruns the message`);
  const withdrawn = decodePrefixes(r.sub(withdrawnLength, () => invalidNetwork('withdrawn routes truncated')), 4, invalidNetwork);
  const attributesLength = r.u16();
  if (attributesLength > r.remaining) throw malformed(`total path attribute length ${attributesLength} overruns the message`);
  const { attributes, problems } = decodeAttributes(r.bytes(attributesLength), ctx);
  const nlri = decodePrefixes(r, 4, invalidNetwork);
  const allProblems = [...problems];
  const announces = nlri.length > 0 || (attributes.mpReach?.nlri.length ?? 0) > 0;
  if (announces && !problems.some((p) => p.treatment === ErrorTreatment.treatAsWithdraw)) {
    // RFC 4271 §6.3 mandatory attributes; RFC 7606 §3 (d): missing ones mean treat-as-withdraw.
    const required: [number, unknown][] = [
      [AttrType.origin, attributes.origin],
      [AttrType.asPath, attributes.asPath],
    ];
    if (nlri.length > 0) required.push([AttrType.nextHop, attributes.nextHop]);
    for (const [typeCode, present] of required) {
      if (present === undefined) {
        allProblems.push(updateError(UpdateErrorSubcode.missingWellKnownAttribute, Uint8Array.of(typeCode), ErrorTreatment.treatAsWithdraw, `mandatory attribute ${typeCode} is missing`));
      }
    }
  }
  return { type: 'update', withdrawn, attributes, nlri, problems: allProblems };
}

/** Writes one attribute, choosing the extended length form only when the value needs it. */
function writeAttribute(w: ByteWriter, flags: number, typeCode: number, body: (v: ByteWriter) => void): void {
  const inner = new ByteWriter();
  body(inner);
  const value = inner.finish();
  if (value.length > 255) w.u8(flags | AttrFlag.extendedLength).u8(typeCode).u16(value.length, 'attribute length');
  else w.u8(flags & ~AttrFlag.extendedLength).u8(typeCode).u8(value.length);
  w.bytes(value);
}

function writeAsPath(w: ByteWriter, segments: readonly AsPathSegment[], asnSize: 2 | 4): void {
  for (const s of segments) {
    // A segment holds at most 255 ASNs; longer runs are split into consecutive segments.
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = s.asns.slice(i, i + 255);
      w.u8(s.type).u8(chunk.length);
      for (const asn of chunk) {
        if (asnSize === 4) w.u32(asn, 'ASN');
        else w.u16(asn > 0xffff ? AS_TRANS : asn, 'ASN');
      }
    }
  }
}

const WELL_KNOWN = AttrFlag.transitive;
const OPTIONAL_TRANSITIVE = AttrFlag.optional | AttrFlag.transitive;

/** Encodes path attributes; MP attributes first (RFC 7606 §5.1), then by type code. */
export function encodeAttributes(w: ByteWriter, a: PathAttributes, ctx: AttributeContext): void {
  if (a.mpReach !== undefined) {
    const mp = a.mpReach;
    writeAttribute(w, AttrFlag.optional, AttrType.mpReachNlri, (v) => {
      v.u16(mp.afi, 'AFI').u8(mp.safi, 'SAFI');
      v.lengthPrefixed8(() => {
        for (const nh of mp.nextHops) v.bytes(ipToBytes(nh));
      }, 'next hop length');
      v.u8(0);
      for (const p of mp.nlri) encodePrefix(v, p);
    });
  }
  if (a.mpUnreach !== undefined) {
    const mp = a.mpUnreach;
    writeAttribute(w, AttrFlag.optional, AttrType.mpUnreachNlri, (v) => {
      v.u16(mp.afi, 'AFI').u8(mp.safi, 'SAFI');
      for (const p of mp.withdrawn) encodePrefix(v, p);
    });
  }
  const { origin, asPath, nextHop, multiExitDisc, localPref, atomicAggregate, communities, largeCommunities } = a;
  if (origin !== undefined) writeAttribute(w, WELL_KNOWN, AttrType.origin, (v) => v.u8(origin));
  let as4Path = a.as4Path;
  if (asPath !== undefined) {
    writeAttribute(w, WELL_KNOWN, AttrType.asPath, (v) => writeAsPath(v, asPath, ctx.fourOctetAs ? 4 : 2));
    // RFC 6793 §4.2.2: a new speaker talking to an old one sends the real path in AS4_PATH
    // whenever AS_PATH had to carry AS_TRANS.
    if (!ctx.fourOctetAs && as4Path === undefined && asPath.some((s) => s.asns.some((asn) => asn > 0xffff))) as4Path = asPath;
  }
  if (nextHop !== undefined) writeAttribute(w, WELL_KNOWN, AttrType.nextHop, (v) => v.bytes(ipToBytes(nextHop)));
  if (multiExitDisc !== undefined) writeAttribute(w, AttrFlag.optional, AttrType.multiExitDisc, (v) => v.u32(multiExitDisc, 'MED'));
  if (localPref !== undefined) writeAttribute(w, WELL_KNOWN, AttrType.localPref, (v) => v.u32(localPref, 'LOCAL_PREF'));
  if (atomicAggregate === true) writeAttribute(w, WELL_KNOWN, AttrType.atomicAggregate, () => undefined);
  if (communities !== undefined && communities.length > 0) {
    writeAttribute(w, OPTIONAL_TRANSITIVE, AttrType.communities, (v) => {
      for (const c of communities) v.u32(c, 'community');
    });
  }
  if (as4Path !== undefined && !ctx.fourOctetAs) {
    const path = as4Path;
    writeAttribute(w, OPTIONAL_TRANSITIVE, AttrType.as4Path, (v) => writeAsPath(v, path, 4));
  }
  if (largeCommunities !== undefined && largeCommunities.length > 0) {
    writeAttribute(w, OPTIONAL_TRANSITIVE, AttrType.largeCommunity, (v) => {
      for (const c of largeCommunities) v.u32(c.globalAdministrator, 'large community').u32(c.localData1, 'large community').u32(c.localData2, 'large community');
    });
  }
  for (const r of a.raw ?? []) writeAttribute(w, r.flags, r.typeCode, (v) => v.bytes(r.value));
}

export interface UpdateInput {
  readonly withdrawn?: readonly Cidr[];
  readonly attributes?: PathAttributes;
  readonly nlri?: readonly Cidr[];
}

/** Encodes an UPDATE. Throws BgpError if it would not fit in 4096 bytes. */
export function encodeUpdate(msg: UpdateInput, ctx: AttributeContext): Uint8Array {
  return encodeMessage(MessageType.update, (w) => {
    w.lengthPrefixed16(() => {
      for (const p of msg.withdrawn ?? []) encodePrefix(w, p);
    }, 'withdrawn routes length');
    w.lengthPrefixed16(() => encodeAttributes(w, msg.attributes ?? {}, ctx), 'total path attribute length');
    for (const p of msg.nlri ?? []) encodePrefix(w, p);
  });
}

/** An AS_SEQUENCE path, the only shape an originating speaker sends. */
export function asSequence(...asns: number[]): AsPathSegment[] {
  return asns.length === 0 ? [] : [{ type: 2 satisfies AsPathSegmentType, asns }];
}
