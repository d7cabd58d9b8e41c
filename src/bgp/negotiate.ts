import { BgpMessageError, ErrorTreatment } from './errors.ts';
import { Afi, ErrorCode, OpenErrorSubcode, Safi } from './wire/constants.ts';
import { findCapability, senderAsn, twoOctetAsn, type Capability, type OpenMessage } from './wire/open.ts';

/** Address families the speaker can announce. */
export type AddressFamily = 'ipv4' | 'ipv6';

/** What this side of one session is configured with: the input to OPEN and to negotiation. */
export interface SessionParameters {
  readonly localAsn: number;
  readonly peerAsn: number;
  readonly routerId: string;
  /** Our proposed hold time: 0 (no keepalives) or 3..65535 seconds. */
  readonly holdTimeSeconds: number;
  readonly families: readonly AddressFamily[];
  /** RFC 4724: advertise graceful restart with this restart time; absent = not advertised. */
  readonly gracefulRestart?: {
    readonly restartTimeSeconds: number;
    readonly restarting: boolean;
    /**
     * RFC 4724 §3 F bit: our forwarding state survived. For an LB node it is the dataplane,
     * which stays in the kernel across an agent restart. A router that gets F=0 after our
     * restart "MUST immediately remove all the stale routes" (§4.2): a gap in service.
     */
    readonly forwardingPreserved: boolean;
  };
}

/** What both sides agreed on in their OPENs (RFC 4271 §4.2, RFC 5492). */
export interface Negotiated {
  readonly holdTimeSeconds: number;
  /** RFC 4271 §10: one third of the hold time; 0 when the hold time is 0. */
  readonly keepaliveSeconds: number;
  readonly fourOctetAs: boolean;
  readonly families: readonly AddressFamily[];
  readonly routeRefresh: boolean;
  readonly peerRouterId: string;
  readonly peerAsn: number;
  /** The peer's graceful restart capability, if it sent one. */
  readonly peerGracefulRestart?: Extract<Capability, { kind: 'graceful-restart' }>;
  /**
   * Both sides sent the graceful restart capability with the N bit (RFC 8538 §2): a NOTIFICATION
   * other than Hard Reset then starts graceful restart instead of flushing routes.
   */
  readonly gracefulNotification: boolean;
}

const FAMILY_CODES: Record<AddressFamily, { afi: number; safi: number }> = {
  ipv4: { afi: Afi.ipv4, safi: Safi.unicast },
  ipv6: { afi: Afi.ipv6, safi: Safi.unicast },
};

/** The OPEN this side sends. We always offer four-octet AS and route refresh. */
export function buildOpen(p: SessionParameters): Omit<OpenMessage, 'type' | 'version'> {
  const capabilities: Capability[] = p.families.map((f) => ({ kind: 'multiprotocol', ...FAMILY_CODES[f] }));
  capabilities.push({ kind: 'route-refresh' }, { kind: 'four-octet-as', asn: p.localAsn });
  if (p.gracefulRestart !== undefined) {
    capabilities.push({
      kind: 'graceful-restart',
      restarting: p.gracefulRestart.restarting,
      // RFC 8538 §2: we keep a router's routes over our NOTIFICATIONs too, and can ask it to.
      notification: true,
      restartTimeSeconds: p.gracefulRestart.restartTimeSeconds,
      families: p.families.map((f) => ({ ...FAMILY_CODES[f], forwardingPreserved: p.gracefulRestart!.forwardingPreserved })),
    });
  }
  return {
    myAutonomousSystem: twoOctetAsn(p.localAsn),
    holdTimeSeconds: p.holdTimeSeconds,
    bgpIdentifier: p.routerId,
    capabilities,
  };
}

/** The family an RFC 4760 AFI/SAFI pair names, if the speaker knows it. */
export function familyOf(afi: number, safi: number): AddressFamily | undefined {
  return (Object.keys(FAMILY_CODES) as AddressFamily[]).find((f) => FAMILY_CODES[f].afi === afi && FAMILY_CODES[f].safi === safi);
}

function openError(subcode: number, data: Uint8Array, message: string): BgpMessageError {
  return new BgpMessageError(ErrorCode.openMessage, subcode, data, ErrorTreatment.sessionReset, message);
}

/**
 * Checks the peer's OPEN against our parameters and works out what the session will use.
 * Returns the NOTIFICATION-ready error instead of throwing: the FSM turns it into actions.
 */
export function negotiate(p: SessionParameters, open: OpenMessage): Negotiated | BgpMessageError {
  const peerAsn = senderAsn(open);
  if (peerAsn !== p.peerAsn) {
    // RFC 4271 §6.2: Bad Peer AS; data is the 2-octet My Autonomous System field as received.
    const field = open.myAutonomousSystem;
    return openError(OpenErrorSubcode.badPeerAs, Uint8Array.of(field >> 8, field & 0xff), `peer says AS ${peerAsn}; configured AS ${p.peerAsn}`);
  }
  if (open.bgpIdentifier === p.routerId && peerAsn === p.localAsn) {
    // RFC 6286 §2.2: inside one AS the identifiers must differ.
    return openError(OpenErrorSubcode.badBgpIdentifier, new Uint8Array(0), `peer uses our own BGP identifier ${p.routerId}`);
  }
  const holdTimeSeconds = Math.min(p.holdTimeSeconds, open.holdTimeSeconds);
  if (holdTimeSeconds !== 0 && holdTimeSeconds < 3) {
    return openError(OpenErrorSubcode.unacceptableHoldTime, new Uint8Array(0), `negotiated hold time ${holdTimeSeconds} s; it must be 0 or at least 3`);
  }
  const offered = open.capabilities.filter((c) => c.kind === 'multiprotocol');
  // RFC 4760 §1: a speaker that sends no multiprotocol capability speaks IPv4 unicast only.
  const peerFamilies = offered.length === 0 ? [FAMILY_CODES.ipv4] : offered;
  const families = p.families.filter((f) => peerFamilies.some((c) => c.afi === FAMILY_CODES[f].afi && c.safi === FAMILY_CODES[f].safi));
  const peerGracefulRestart = findCapability(open, 'graceful-restart');
  return {
    holdTimeSeconds,
    keepaliveSeconds: Math.floor(holdTimeSeconds / 3),
    fourOctetAs: findCapability(open, 'four-octet-as') !== undefined,
    families,
    routeRefresh: findCapability(open, 'route-refresh') !== undefined,
    peerRouterId: open.bgpIdentifier,
    peerAsn,
    ...(peerGracefulRestart === undefined ? {} : { peerGracefulRestart }),
    gracefulNotification: p.gracefulRestart !== undefined && peerGracefulRestart?.notification === true,
  };
}
