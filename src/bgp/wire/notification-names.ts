/**
 * NOTIFICATION error codes and subcodes in words, as the IANA "BGP Error (Notification) Codes"
 * and "BGP Error Subcodes" registries name them (RFC 4271 §4.5, RFC 4486, RFC 5492, RFC 6608,
 * RFC 7313, RFC 8538, RFC 9234, RFC 9384). Operators read these in `vipgate bgp peers` and the
 * logs; the texts are stable.
 */
import { ErrorCode } from './constants.ts';

const CODE_NAMES: Readonly<Record<number, string>> = {
  [ErrorCode.messageHeader]: 'Message Header Error',
  [ErrorCode.openMessage]: 'OPEN Message Error',
  [ErrorCode.updateMessage]: 'UPDATE Message Error',
  [ErrorCode.holdTimerExpired]: 'Hold Timer Expired',
  [ErrorCode.finiteStateMachine]: 'Finite State Machine Error',
  [ErrorCode.cease]: 'Cease',
  [ErrorCode.routeRefreshMessage]: 'ROUTE-REFRESH Message Error',
};

/** Subcode names by error code; subcode 0 is "Unspecific" everywhere (IANA). */
const SUBCODE_NAMES: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  [ErrorCode.messageHeader]: { 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  [ErrorCode.openMessage]: {
    1: 'Unsupported Version Number',
    2: 'Bad Peer AS',
    3: 'Bad BGP Identifier',
    4: 'Unsupported Optional Parameter',
    6: 'Unacceptable Hold Time',
    7: 'Unsupported Capability',
    11: 'Role Mismatch',
  },
  [ErrorCode.updateMessage]: {
    1: 'Malformed Attribute List',
    2: 'Unrecognized Well-known Attribute',
    3: 'Missing Well-known Attribute',
    4: 'Attribute Flags Error',
    5: 'Attribute Length Error',
    6: 'Invalid ORIGIN Attribute',
    8: 'Invalid NEXT_HOP Attribute',
    9: 'Optional Attribute Error',
    10: 'Invalid Network Field',
    11: 'Malformed AS_PATH',
  },
  [ErrorCode.finiteStateMachine]: {
    0: 'Unspecified Error',
    1: 'Receive Unexpected Message in OpenSent State',
    2: 'Receive Unexpected Message in OpenConfirm State',
    3: 'Receive Unexpected Message in Established State',
  },
  [ErrorCode.cease]: {
    1: 'Maximum Number of Prefixes Reached',
    2: 'Administrative Shutdown',
    3: 'Peer De-configured',
    4: 'Administrative Reset',
    5: 'Connection Rejected',
    6: 'Other Configuration Change',
    7: 'Connection Collision Resolution',
    8: 'Out of Resources',
    9: 'Hard Reset',
    10: 'BFD Down',
  },
  [ErrorCode.routeRefreshMessage]: { 1: 'Invalid Message Length' },
};

/** "UPDATE Message Error / Malformed Attribute List"; numbers for what IANA has not named. */
export function notificationName(code: number, subcode: number): string {
  const codeName = CODE_NAMES[code] ?? `error code ${code}`;
  // Hold Timer Expired has no subcodes: "Hold Timer Expired / Unspecific" would only confuse.
  if (code === ErrorCode.holdTimerExpired && subcode === 0) return codeName;
  const subcodeName = SUBCODE_NAMES[code]?.[subcode] ?? (subcode === 0 ? 'Unspecific' : `subcode ${subcode}`);
  return `${codeName} / ${subcodeName}`;
}

/**
 * One NOTIFICATION as operators read it: "sent NOTIFICATION 3/1 UPDATE Message Error / Malformed
 * Attribute List: <detail>". `detail` is our own reason (sent) or the RFC 9003 shutdown
 * communication (received).
 */
export function describeNotification(direction: 'sent' | 'received', code: number, subcode: number, detail?: string): string {
  const tail = detail === undefined || detail === '' ? '' : `: ${detail}`;
  return `${direction} NOTIFICATION ${code}/${subcode} ${notificationName(code, subcode)}${tail}`;
}
