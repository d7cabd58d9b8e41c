/** Protocol numbers of BGP-4 and the extensions the speaker implements. */

/** RFC 4271 §4.1: every message starts with 16 bytes of 0xff, a 2-byte length and a type. */
export const HEADER_LENGTH = 19;
/** RFC 4271 §4.1: "The value of the Length field MUST always be at least 19 and no greater than 4096". */
export const MAX_MESSAGE_LENGTH = 4096;
export const MARKER_LENGTH = 16;
/** RFC 4271 §4.2. */
export const BGP_VERSION = 4;
/** RFC 6793 §9: the 2-octet stand-in for a 4-octet AS number. */
export const AS_TRANS = 23456;

/** RFC 4271 §4.1, RFC 2918 §3. */
export const MessageType = {
  open: 1,
  update: 2,
  notification: 3,
  keepalive: 4,
  routeRefresh: 5,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** RFC 4271 §4.5 NOTIFICATION error codes. */
export const ErrorCode = {
  messageHeader: 1,
  openMessage: 2,
  updateMessage: 3,
  holdTimerExpired: 4,
  finiteStateMachine: 5,
  cease: 6,
  /** RFC 7313 §5. */
  routeRefreshMessage: 7,
} as const;

/** RFC 4271 §6.1. */
export const HeaderErrorSubcode = {
  connectionNotSynchronized: 1,
  badMessageLength: 2,
  badMessageType: 3,
} as const;

/** RFC 4271 §6.2, RFC 5492 §5 (unsupported capability). */
export const OpenErrorSubcode = {
  unsupportedVersionNumber: 1,
  badPeerAs: 2,
  badBgpIdentifier: 3,
  unsupportedOptionalParameter: 4,
  unacceptableHoldTime: 6,
  unsupportedCapability: 7,
} as const;

/** RFC 4271 §6.3. */
export const UpdateErrorSubcode = {
  malformedAttributeList: 1,
  unrecognizedWellKnownAttribute: 2,
  missingWellKnownAttribute: 3,
  attributeFlagsError: 4,
  attributeLengthError: 5,
  invalidOriginAttribute: 6,
  invalidNextHopAttribute: 8,
  optionalAttributeError: 9,
  invalidNetworkField: 10,
  malformedAsPath: 11,
} as const;

/** RFC 6608 §4: which state an unexpected message arrived in. */
export const FsmErrorSubcode = {
  unspecified: 0,
  unexpectedInOpenSent: 1,
  unexpectedInOpenConfirm: 2,
  unexpectedInEstablished: 3,
} as const;

/** RFC 4486 §4 (Cease subcodes), RFC 8538 §3 (Hard Reset), RFC 9384 §2 (BFD Down). */
export const CeaseSubcode = {
  maximumPrefixesReached: 1,
  administrativeShutdown: 2,
  peerDeconfigured: 3,
  administrativeReset: 4,
  connectionRejected: 5,
  otherConfigurationChange: 6,
  connectionCollisionResolution: 7,
  outOfResources: 8,
  /** RFC 8538 §3: ends the session and the graceful restart, whatever the N bit says. */
  hardReset: 9,
  bfdDown: 10,
} as const;

/** RFC 4271 §4.3 path attribute flag bits. */
export const AttrFlag = {
  optional: 0x80,
  transitive: 0x40,
  partial: 0x20,
  extendedLength: 0x10,
} as const;

/** Path attribute type codes: RFC 4271 §5, RFC 1997, RFC 4760, RFC 6793, RFC 8092. */
export const AttrType = {
  origin: 1,
  asPath: 2,
  nextHop: 3,
  multiExitDisc: 4,
  localPref: 5,
  atomicAggregate: 6,
  aggregator: 7,
  communities: 8,
  mpReachNlri: 14,
  mpUnreachNlri: 15,
  as4Path: 17,
  as4Aggregator: 18,
  largeCommunity: 32,
} as const;

/** RFC 4271 §5.1.1. */
export const Origin = { igp: 0, egp: 1, incomplete: 2 } as const;
export type Origin = (typeof Origin)[keyof typeof Origin];

/** RFC 4271 §4.3 AS_PATH segment types. */
export const AsPathSegmentType = { asSet: 1, asSequence: 2 } as const;
export type AsPathSegmentType = (typeof AsPathSegmentType)[keyof typeof AsPathSegmentType];

/** RFC 5492 §4: the optional parameter that carries capabilities. */
export const OptionalParameterType = { capabilities: 2 } as const;

/** Capability codes: RFC 4760, RFC 2918, RFC 4724, RFC 6793. */
export const CapabilityCode = {
  multiprotocol: 1,
  routeRefresh: 2,
  gracefulRestart: 64,
  fourOctetAs: 65,
} as const;

/** Address family identifiers (IANA) used by RFC 4760. */
export const Afi = { ipv4: 1, ipv6: 2 } as const;
/** Subsequent address family identifiers: only unicast is spoken here. */
export const Safi = { unicast: 1 } as const;
