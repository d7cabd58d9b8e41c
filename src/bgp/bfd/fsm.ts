/**
 * The BFD session state machine (RFC 5880 §6.2, §6.8) as data: `transition(state, event)`
 * returns the next state and the actions the session carries out (send a packet, arm timers).
 * Pure: time is not read here, the session reports timer expiries as events. Asynchronous mode
 * only (we never set the D bit); Poll/Final is minimal: we answer every Poll with a Final, and
 * we run one Poll Sequence when going Up to switch from the slow rate (1 s, §6.8.3) to ours.
 */
import { BFD_STATE_NAMES, BfdDiagnostic, BfdState, SLOW_TX_INTERVAL_US } from './constants.ts';
import type { BfdControlPacket } from './packet.ts';

export interface BfdTimersConfig {
  /** bfd.DesiredMinTxInterval once Up, microseconds. */
  readonly desiredMinTxUs: number;
  /** bfd.RequiredMinRxInterval, microseconds. */
  readonly requiredMinRxUs: number;
  /** bfd.DetectMult: the remote side declares us down after this many missed intervals. */
  readonly detectMult: number;
}

/** RFC 5880 §6.8.1 state variables (the ones asynchronous mode without auth needs). */
export interface BfdSessionState {
  readonly sessionState: BfdState;
  readonly remoteSessionState: BfdState;
  readonly localDiscr: number;
  readonly remoteDiscr: number;
  readonly localDiag: BfdDiagnostic;
  /** The value we put on the wire now: 1 s while not Up (§6.8.3), the configured one once Up. */
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly remoteMinRxUs: number;
  /** The last Desired Min TX Interval the remote sent (for the detection time, §6.8.4). */
  readonly remoteDesiredMinTxUs: number;
  readonly remoteDetectMult: number;
  readonly detectMult: number;
  readonly configuredMinTxUs: number;
  /** A Poll Sequence is running: our packets carry P until a packet with F arrives. */
  readonly polling: boolean;
  /** The session has been Up at least once (so Down means "lost", RFC 5882 §4.3). */
  readonly wasUp: boolean;
}

export type BfdEvent =
  | { readonly type: 'PacketReceived'; readonly packet: BfdControlPacket }
  | { readonly type: 'DetectionTimerExpired' }
  | { readonly type: 'AdminDown' }
  | { readonly type: 'AdminUp' };

export type BfdAction =
  /** Send a Control packet now (besides the periodic ones); `final` answers a Poll. */
  | { readonly type: 'sendControl'; readonly final: boolean }
  /** (Re)arm the detection timer: a packet must arrive within `ms`. */
  | { readonly type: 'startDetectionTimer'; readonly ms: number }
  | { readonly type: 'stopDetectionTimer' }
  /** The periodic transmission interval may have changed: re-arm it with this base interval. */
  | { readonly type: 'setTransmitInterval'; readonly ms: number }
  | { readonly type: 'stateChanged'; readonly from: BfdState; readonly to: BfdState; readonly diagnostic: BfdDiagnostic };

export interface BfdTransition {
  readonly state: BfdSessionState;
  readonly actions: readonly BfdAction[];
  /** Why, for the log (`detection-time-expired`, `remote-down`…); undefined when nothing changed. */
  readonly reason?: string;
}

export function initialBfdState(localDiscr: number, config: BfdTimersConfig): BfdSessionState {
  return {
    sessionState: BfdState.down,
    remoteSessionState: BfdState.down,
    localDiscr,
    remoteDiscr: 0,
    localDiag: BfdDiagnostic.none,
    desiredMinTxUs: Math.max(SLOW_TX_INTERVAL_US, config.desiredMinTxUs),
    requiredMinRxUs: config.requiredMinRxUs,
    // §6.8.1: "This variable MUST be initialized to 1."
    remoteMinRxUs: 1,
    remoteDesiredMinTxUs: 0,
    remoteDetectMult: 0,
    detectMult: config.detectMult,
    configuredMinTxUs: config.desiredMinTxUs,
    polling: false,
    wasUp: false,
  };
}

/** §6.8.7: the periodic interval before jitter, milliseconds. */
export function transmitIntervalMs(s: BfdSessionState): number {
  return Math.max(s.desiredMinTxUs, s.remoteMinRxUs) / 1000;
}

/**
 * §6.8.4: "the Detection Time ... is equal to the value of Detect Mult received from the remote
 * system, multiplied by the agreed transmit interval of the remote system (the greater of
 * bfd.RequiredMinRxInterval and the last received Desired Min TX Interval)."
 */
export function detectionTimeMs(s: BfdSessionState): number {
  return (s.remoteDetectMult * Math.max(s.requiredMinRxUs, s.remoteDesiredMinTxUs)) / 1000;
}

/** The packet the session sends in its current state (§6.8.7). */
export function controlPacketOf(s: BfdSessionState, final: boolean): BfdControlPacket {
  return {
    diagnostic: s.localDiag,
    state: s.sessionState,
    // §6.8.7: a system MUST NOT set P and F in the same packet.
    poll: s.polling && !final,
    final,
    controlPlaneIndependent: false,
    demand: false,
    detectMult: s.detectMult,
    myDiscriminator: s.localDiscr,
    yourDiscriminator: s.remoteDiscr,
    desiredMinTxUs: s.desiredMinTxUs,
    requiredMinRxUs: s.requiredMinRxUs,
    requiredMinEchoRxUs: 0,
  };
}

function changeState(s: BfdSessionState, to: BfdState, diagnostic: BfdDiagnostic): { state: BfdSessionState; actions: BfdAction[] } {
  const from = s.sessionState;
  let next: BfdSessionState = { ...s, sessionState: to, localDiag: diagnostic };
  if (to === BfdState.up) {
    // §6.8.3: leaving the slow rate is a change of DesiredMinTxInterval, announced with a Poll.
    next = { ...next, wasUp: true, desiredMinTxUs: s.configuredMinTxUs, polling: s.configuredMinTxUs !== s.desiredMinTxUs };
  } else if (from === BfdState.up) {
    next = { ...next, desiredMinTxUs: Math.max(SLOW_TX_INTERVAL_US, s.configuredMinTxUs), polling: false };
  }
  return {
    state: next,
    actions: [
      { type: 'stateChanged', from, to, diagnostic },
      { type: 'setTransmitInterval', ms: transmitIntervalMs(next) },
      // Tell the remote at once rather than at the next periodic packet: bring-up and
      // tear-down are not held back by up to a second.
      { type: 'sendControl', final: false },
    ],
  };
}

function name(state: BfdState): string {
  return BFD_STATE_NAMES[state];
}

function receive(s: BfdSessionState, p: BfdControlPacket): BfdTransition {
  // §6.8.6: "If the Your Discriminator field is nonzero, it MUST be used to select the session
  // with which this BFD packet is associated. If no session is found, the packet MUST be discarded."
  if (p.yourDiscriminator !== 0 && p.yourDiscriminator !== s.localDiscr) return { state: s, actions: [], reason: 'discarded-unknown-discriminator' };
  // "If bfd.SessionState is AdminDown: Discard the packet."
  if (s.sessionState === BfdState.adminDown) return { state: s, actions: [], reason: 'discarded-admin-down' };
  let next: BfdSessionState = {
    ...s,
    remoteDiscr: p.myDiscriminator,
    remoteSessionState: p.state,
    remoteMinRxUs: p.requiredMinRxUs,
    remoteDesiredMinTxUs: p.desiredMinTxUs,
    remoteDetectMult: p.detectMult,
    // "If the Final (F) bit is set and there is a Poll Sequence in progress, terminate it."
    polling: p.final ? false : s.polling,
  };
  const actions: BfdAction[] = [];
  let reason: string | undefined;
  const moveTo = (to: BfdState, diagnostic: BfdDiagnostic, why: string): void => {
    const changed = changeState(next, to, diagnostic);
    next = changed.state;
    actions.push(...changed.actions);
    reason = why;
  };
  const current = s.sessionState;
  if (p.state === BfdState.adminDown) {
    if (current !== BfdState.down) moveTo(BfdState.down, BfdDiagnostic.neighborSignaledSessionDown, 'remote-admin-down');
  } else if (current === BfdState.down) {
    if (p.state === BfdState.down) moveTo(BfdState.init, BfdDiagnostic.none, 'remote-down');
    else if (p.state === BfdState.init) moveTo(BfdState.up, BfdDiagnostic.none, 'remote-init');
  } else if (current === BfdState.init) {
    if (p.state === BfdState.init || p.state === BfdState.up) moveTo(BfdState.up, BfdDiagnostic.none, `remote-${name(p.state).toLowerCase()}`);
  } else if (p.state === BfdState.down) {
    moveTo(BfdState.down, BfdDiagnostic.neighborSignaledSessionDown, 'remote-down');
  }
  // A packet arrived: the detection timer starts over (§6.8.4), with the new values.
  actions.push({ type: 'startDetectionTimer', ms: detectionTimeMs(next) });
  if (next.remoteMinRxUs !== s.remoteMinRxUs && reason === undefined) actions.push({ type: 'setTransmitInterval', ms: transmitIntervalMs(next) });
  // "If the Poll (P) bit is set, send a BFD Control packet to the remote system with the Poll
  // (P) bit clear, and the Final (F) bit set."
  if (p.poll) actions.push({ type: 'sendControl', final: true });
  return { state: next, actions, ...(reason === undefined ? {} : { reason }) };
}

export function transition(s: BfdSessionState, event: BfdEvent): BfdTransition {
  switch (event.type) {
    case 'PacketReceived':
      return receive(s, event.packet);
    case 'DetectionTimerExpired': {
      // §6.8.1: bfd.RemoteDiscr "MUST be set to zero if a period of a Detection Time passes
      // without the receipt of a valid ... BFD packet from the remote system".
      const cleared: BfdSessionState = { ...s, remoteDiscr: 0, remoteSessionState: BfdState.down };
      if (s.sessionState !== BfdState.init && s.sessionState !== BfdState.up) return { state: cleared, actions: [{ type: 'stopDetectionTimer' }], reason: 'detection-time-expired' };
      const changed = changeState(cleared, BfdState.down, BfdDiagnostic.controlDetectionTimeExpired);
      return { state: changed.state, actions: [{ type: 'stopDetectionTimer' }, ...changed.actions], reason: 'detection-time-expired' };
    }
    case 'AdminDown': {
      if (s.sessionState === BfdState.adminDown) return { state: s, actions: [] };
      const changed = changeState(s, BfdState.adminDown, BfdDiagnostic.administrativelyDown);
      return { state: changed.state, actions: [{ type: 'stopDetectionTimer' }, ...changed.actions], reason: 'admin-down' };
    }
    case 'AdminUp': {
      if (s.sessionState !== BfdState.adminDown) return { state: s, actions: [] };
      const changed = changeState(s, BfdState.down, BfdDiagnostic.none);
      return { state: changed.state, actions: changed.actions, reason: 'admin-up' };
    }
  }
}
