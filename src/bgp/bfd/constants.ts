/** BFD constants (RFC 5880, RFC 5881), each with the section that defines it. */

/** RFC 5880 §4.1: the protocol version this implementation speaks. */
export const BFD_VERSION = 1;

/** RFC 5881 §4: single-hop BFD Control packets go to this UDP port. */
export const BFD_CONTROL_PORT = 3784;

/** RFC 5881 §4: "The source port MUST be in the range 49152 through 65535." */
export const BFD_SOURCE_PORTS = { min: 49152, max: 65535 } as const;

/** RFC 5881 §5: sent with TTL/Hop Limit 255, and only packets received with 255 are accepted. */
export const BFD_TTL = 255;

/** RFC 5880 §4.1: the mandatory section is 24 bytes; an Authentication Section follows it. */
export const BFD_HEADER_LENGTH = 24;

/** RFC 5880 §4.1 State (Sta) field. */
export const BfdState = {
  adminDown: 0,
  down: 1,
  init: 2,
  up: 3,
} as const;
export type BfdState = (typeof BfdState)[keyof typeof BfdState];

export const BFD_STATE_NAMES: Readonly<Record<BfdState, string>> = { 0: 'AdminDown', 1: 'Down', 2: 'Init', 3: 'Up' };

/** RFC 5880 §4.1 Diagnostic (Diag) field: why the session last left Up. */
export const BfdDiagnostic = {
  none: 0,
  controlDetectionTimeExpired: 1,
  echoFunctionFailed: 2,
  neighborSignaledSessionDown: 3,
  forwardingPlaneReset: 4,
  pathDown: 5,
  concatenatedPathDown: 6,
  administrativelyDown: 7,
  reverseConcatenatedPathDown: 8,
} as const;
export type BfdDiagnostic = (typeof BfdDiagnostic)[keyof typeof BfdDiagnostic];

/**
 * RFC 5880 §6.8.3: "When bfd.SessionState is not Up, the system MUST set
 * bfd.DesiredMinTxInterval to a value of not less than one second (1,000,000 microseconds)."
 */
export const SLOW_TX_INTERVAL_US = 1_000_000;
