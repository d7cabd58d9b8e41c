/**
 * The RFC 4271 §8 finite state machine as data: `transition(state, event, params)` returns the
 * next state and the actions to carry out. It opens no sockets and starts no timers; the session
 * does that. Every result names a reason for the logs.
 */
import { BgpMessageError, ErrorTreatment } from './errors.ts';
import { familyOf, negotiate, type Negotiated, type SessionParameters } from './negotiate.ts';
import { CeaseSubcode, ErrorCode, FsmErrorSubcode } from './wire/constants.ts';
import { hardResetData, type NotificationMessage } from './wire/notification.ts';
import type { OpenMessage } from './wire/open.ts';

/** RFC 4271 §8.2.2 states. */
export const FsmStateName = {
  idle: 'Idle',
  connect: 'Connect',
  active: 'Active',
  openSent: 'OpenSent',
  openConfirm: 'OpenConfirm',
  established: 'Established',
} as const;
export type FsmStateName = (typeof FsmStateName)[keyof typeof FsmStateName];

export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold';

/**
 * Why a session is stopped. `restart`: this process goes away and a new one takes over (RFC 4724:
 * routers keep our routes as stale meanwhile). `remove`: the peer or the node leaves for good
 * (routers drop our routes at once; RFC 8538 Hard Reset where the N bit was negotiated).
 */
export type StopKind = 'restart' | 'remove';

/** RFC 4271 §8.1 events (the ones this speaker raises), by their RFC names. */
export type FsmEvent =
  | { readonly type: 'ManualStart'; readonly passive?: boolean }
  | { readonly type: 'ManualStop'; readonly kind?: StopKind; readonly shutdownMessage?: string }
  /** Raised when the idle hold (backoff) timer expires after an error. */
  | { readonly type: 'AutomaticStart' }
  | { readonly type: 'ConnectRetryTimerExpires' }
  | { readonly type: 'HoldTimerExpires' }
  | { readonly type: 'KeepaliveTimerExpires' }
  /** We accepted the peer's connection (passive side). */
  | { readonly type: 'TcpConnectionConfirmed' }
  /** Our own connection attempt succeeded. */
  | { readonly type: 'TcpCRAcked' }
  | { readonly type: 'TcpConnectionFails' }
  | { readonly type: 'BGPOpen'; readonly open: OpenMessage }
  /** A received message could not be decoded, or breaks the protocol (Events 21, 22, 28). */
  | { readonly type: 'MessageError'; readonly error: BgpMessageError }
  | { readonly type: 'NotifMsg'; readonly notification: NotificationMessage }
  | { readonly type: 'KeepAliveMsg' }
  | { readonly type: 'UpdateMsg' }
  | { readonly type: 'RouteRefreshMsg'; readonly afi: number; readonly safi: number }
  /** RFC 4271 §6.8: the session lost connection collision resolution. */
  | { readonly type: 'OpenCollisionDump' };

export type FsmAction =
  | { readonly type: 'connect' }
  | { readonly type: 'disconnect' }
  | { readonly type: 'sendOpen' }
  | { readonly type: 'sendKeepalive' }
  /** `detail` says why, for operators (lastError, the log); it is not sent. */
  | { readonly type: 'sendNotification'; readonly code: number; readonly subcode: number; readonly data?: Uint8Array; readonly shutdownMessage?: string; readonly detail?: string }
  /** The connect attempt being abandoned got no answer at all (for lastError). */
  | { readonly type: 'connectTimedOut' }
  | { readonly type: 'startTimer'; readonly timer: TimerName; readonly seconds: number }
  | { readonly type: 'stopTimer'; readonly timer: TimerName }
  /** Established: send the whole Adj-RIB-Out. */
  | { readonly type: 'sessionUp'; readonly negotiated: Negotiated }
  /** Left Established: forget what was sent. */
  | { readonly type: 'sessionDown' }
  /** The peer asked for our routes again (RFC 2918). */
  | { readonly type: 'resendRoutes' };

export interface FsmState {
  readonly name: FsmStateName;
  readonly connectRetryCounter: number;
  /** Wait before the next AutomaticStart after an error; doubles per failure (RFC 4271 §8.1.1 IdleHoldTime). */
  readonly idleHoldSeconds: number;
  /** Only wait for the peer to connect (RFC 4271 PassiveTcpEstablishment). */
  readonly passive: boolean;
  /** Set between a good OPEN and leaving Established. */
  readonly negotiated?: Negotiated;
}

export interface FsmTimings {
  readonly connectRetrySeconds: number;
  readonly idleHoldMinSeconds: number;
  readonly idleHoldMaxSeconds: number;
}

export const DEFAULT_TIMINGS: FsmTimings = { connectRetrySeconds: 5, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 60 };

/** RFC 4271 §8.2.2: "a large value" for the hold timer while waiting for the peer's OPEN (4 minutes suggested). */
export const OPEN_SENT_HOLD_SECONDS = 240;

export interface Transition {
  readonly state: FsmState;
  readonly actions: readonly FsmAction[];
  /** Named cause for logs (`hold-timer-expired`, `open-received`, …). */
  readonly reason: string;
}

export function initialFsmState(timings: FsmTimings = DEFAULT_TIMINGS): FsmState {
  return { name: FsmStateName.idle, connectRetryCounter: 0, idleHoldSeconds: timings.idleHoldMinSeconds, passive: false };
}

const stopAll: FsmAction[] = (['connectRetry', 'hold', 'keepalive', 'idleHold'] as const).map((timer) => ({ type: 'stopTimer', timer }));

function notification(error: BgpMessageError): FsmAction {
  return { type: 'sendNotification', code: error.code, subcode: error.subcode, data: error.data, detail: error.message };
}

function holdTimerNotification(s: FsmState): FsmAction {
  const seconds = s.negotiated?.holdTimeSeconds ?? OPEN_SENT_HOLD_SECONDS;
  return { type: 'sendNotification', code: ErrorCode.holdTimerExpired, subcode: 0, detail: `nothing heard from the peer in ${seconds} s` };
}

function without<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  const { [key]: _dropped, ...rest } = value;
  return rest;
}

/**
 * Ends the session after an error: releases everything, counts the failure and schedules an
 * AutomaticStart after the backoff, which then doubles (capped) so a broken peer is not hammered.
 */
function toIdleAfterError(s: FsmState, t: FsmTimings, reason: string, before: FsmAction[] = []): Transition {
  const actions: FsmAction[] = [...before, ...stopAll, { type: 'disconnect' }];
  if (s.name === FsmStateName.established) actions.push({ type: 'sessionDown' });
  actions.push({ type: 'startTimer', timer: 'idleHold', seconds: s.idleHoldSeconds });
  return {
    state: {
      ...without(s, 'negotiated'),
      name: FsmStateName.idle,
      connectRetryCounter: s.connectRetryCounter + 1,
      idleHoldSeconds: Math.min(s.idleHoldSeconds * 2, t.idleHoldMaxSeconds),
    },
    actions,
    reason,
  };
}

function unexpected(s: FsmState, t: FsmTimings, event: FsmEvent): Transition {
  // RFC 6608: the FSM error subcode says which state the unexpected event arrived in.
  const subcode =
    s.name === FsmStateName.openSent ? FsmErrorSubcode.unexpectedInOpenSent
    : s.name === FsmStateName.openConfirm ? FsmErrorSubcode.unexpectedInOpenConfirm
    : s.name === FsmStateName.established ? FsmErrorSubcode.unexpectedInEstablished
    : undefined;
  const before: FsmAction[] = subcode === undefined ? [] : [{ type: 'sendNotification', code: ErrorCode.finiteStateMachine, subcode }];
  return toIdleAfterError(s, t, `unexpected-${event.type}-in-${s.name}`, before);
}

/**
 * The last words of a stopped session. A restart with graceful restart negotiated must not make
 * the router flush: with the N bit (RFC 8538 §4) any NOTIFICATION but Hard Reset keeps our routes
 * stale; without it only a closed TCP connection does (RFC 4724 §4.2), so none is sent. A removal
 * with the N bit needs Hard Reset (RFC 8538 §3), or the router would keep them for restart time.
 */
function lastWords(s: FsmState, p: SessionParameters, event: Extract<FsmEvent, { type: 'ManualStop' }>): FsmAction[] {
  const cease = { code: ErrorCode.cease, subcode: CeaseSubcode.administrativeShutdown, ...(event.shutdownMessage === undefined ? {} : { shutdownMessage: event.shutdownMessage }) };
  const n = s.name === FsmStateName.established ? s.negotiated : undefined;
  const graceful = n !== undefined && p.gracefulRestart !== undefined && n.peerGracefulRestart !== undefined;
  if (event.kind === 'restart' && graceful && !n.gracefulNotification) return [];
  if (event.kind !== 'restart' && n?.gracefulNotification === true) {
    return [{ type: 'sendNotification', code: ErrorCode.cease, subcode: CeaseSubcode.hardReset, data: hardResetData(cease) }];
  }
  // RFC 4486 Cease / Administrative Shutdown, with the RFC 8203 message when there is one.
  return [{ type: 'sendNotification', ...cease }];
}

function manualStop(s: FsmState, p: SessionParameters, event: Extract<FsmEvent, { type: 'ManualStop' }>): Transition {
  const actions: FsmAction[] = [];
  if (s.name === FsmStateName.openSent || s.name === FsmStateName.openConfirm || s.name === FsmStateName.established) actions.push(...lastWords(s, p, event));
  actions.push(...stopAll, { type: 'disconnect' });
  if (s.name === FsmStateName.established) actions.push({ type: 'sessionDown' });
  const reason = event.kind === 'restart' ? 'manual-stop-for-restart' : 'manual-stop';
  return { state: { ...without(s, 'negotiated'), name: FsmStateName.idle, connectRetryCounter: 0 }, actions, reason };
}

function start(s: FsmState, t: FsmTimings, passive: boolean, reason: string): Transition {
  const retry: FsmAction = { type: 'startTimer', timer: 'connectRetry', seconds: t.connectRetrySeconds };
  if (passive) return { state: { ...s, name: FsmStateName.active, passive }, actions: [retry], reason };
  return { state: { ...s, name: FsmStateName.connect, passive }, actions: [retry, { type: 'connect' }], reason };
}

function tcpUp(s: FsmState, reason: string): Transition {
  return {
    state: { ...s, name: FsmStateName.openSent },
    actions: [
      { type: 'stopTimer', timer: 'connectRetry' },
      { type: 'sendOpen' },
      { type: 'startTimer', timer: 'hold', seconds: OPEN_SENT_HOLD_SECONDS },
    ],
    reason,
  };
}

function restartHold(s: FsmState): FsmAction[] {
  const hold = s.negotiated?.holdTimeSeconds ?? 0;
  // RFC 4271 §4.4: with a hold time of 0 neither timer runs.
  return hold === 0 ? [] : [{ type: 'startTimer', timer: 'hold', seconds: hold }];
}

function keepaliveTick(s: FsmState): Transition {
  const seconds = s.negotiated?.keepaliveSeconds ?? 0;
  const actions: FsmAction[] = [{ type: 'sendKeepalive' }];
  if (seconds > 0) actions.push({ type: 'startTimer', timer: 'keepalive', seconds });
  return { state: s, actions, reason: 'keepalive-timer-expired' };
}

function openReceived(s: FsmState, t: FsmTimings, p: SessionParameters, open: OpenMessage): Transition {
  const result = negotiate(p, open);
  if (result instanceof BgpMessageError) return toIdleAfterError(s, t, 'open-rejected', [notification(result)]);
  const actions: FsmAction[] = [{ type: 'stopTimer', timer: 'connectRetry' }, { type: 'sendKeepalive' }];
  if (result.holdTimeSeconds === 0) actions.push({ type: 'stopTimer', timer: 'hold' });
  else {
    actions.push(
      { type: 'startTimer', timer: 'keepalive', seconds: result.keepaliveSeconds },
      { type: 'startTimer', timer: 'hold', seconds: result.holdTimeSeconds },
    );
  }
  return { state: { ...s, name: FsmStateName.openConfirm, negotiated: result }, actions, reason: 'open-received' };
}

/** RFC 4271 §8.2.2, one state at a time. */
export function transition(s: FsmState, event: FsmEvent, p: SessionParameters, t: FsmTimings = DEFAULT_TIMINGS): Transition {
  if (event.type === 'ManualStop') {
    // In Idle a stop is ignored (RFC 4271 §8.2.2), but any pending automatic restart is cancelled.
    if (s.name === FsmStateName.idle) return { state: { ...s, connectRetryCounter: 0 }, actions: [{ type: 'stopTimer', timer: 'idleHold' }], reason: 'manual-stop' };
    return manualStop(s, p, event);
  }
  switch (s.name) {
    case FsmStateName.idle:
      if (event.type === 'ManualStart') return start(s, t, event.passive === true, 'manual-start');
      if (event.type === 'AutomaticStart') return start(s, t, s.passive, 'automatic-start');
      // RFC 4271 §8.2.2: all other events are ignored in Idle.
      return { state: s, actions: [], reason: `ignored-${event.type}-in-Idle` };

    case FsmStateName.connect:
    case FsmStateName.active:
      switch (event.type) {
        case 'ManualStart':
        case 'AutomaticStart':
          return { state: s, actions: [], reason: `ignored-${event.type}-in-${s.name}` };
        case 'ConnectRetryTimerExpires': {
          const retry: FsmAction = { type: 'startTimer', timer: 'connectRetry', seconds: t.connectRetrySeconds };
          if (s.passive) return { state: s, actions: [retry], reason: 'connect-retry-timer-expired' };
          const timedOut: FsmAction[] = s.name === FsmStateName.connect ? [{ type: 'connectTimedOut' }] : [];
          return { state: { ...s, name: FsmStateName.connect }, actions: [...timedOut, { type: 'disconnect' }, retry, { type: 'connect' }], reason: 'connect-retry-timer-expired' };
        }
        case 'TcpCRAcked':
          return tcpUp(s, 'tcp-connected');
        case 'TcpConnectionConfirmed':
          return tcpUp(s, 'tcp-accepted');
        case 'TcpConnectionFails':
          return toIdleAfterError(s, t, 'tcp-connection-failed');
        default:
          return unexpected(s, t, event);
      }

    case FsmStateName.openSent:
      switch (event.type) {
        case 'ManualStart':
        case 'AutomaticStart':
        case 'TcpConnectionConfirmed':
        case 'TcpCRAcked':
          // A second connection while one is in progress is the session's collision problem.
          return { state: s, actions: [], reason: `ignored-${event.type}-in-OpenSent` };
        case 'HoldTimerExpires':
          return toIdleAfterError(s, t, 'hold-timer-expired', [holdTimerNotification(s)]);
        case 'TcpConnectionFails':
          return toIdleAfterError(s, t, 'tcp-connection-failed');
        case 'BGPOpen':
          return openReceived(s, t, p, event.open);
        case 'MessageError':
          return toIdleAfterError(s, t, 'message-error', [notification(event.error)]);
        case 'NotifMsg':
          return toIdleAfterError(s, t, 'notification-received');
        case 'OpenCollisionDump':
          return toIdleAfterError(s, t, 'collision-dump', [{ type: 'sendNotification', code: ErrorCode.cease, subcode: CeaseSubcode.connectionCollisionResolution }]);
        default:
          return unexpected(s, t, event);
      }

    case FsmStateName.openConfirm:
    case FsmStateName.established: {
      const up = s.name === FsmStateName.established;
      switch (event.type) {
        case 'ManualStart':
        case 'AutomaticStart':
        case 'TcpConnectionConfirmed':
        case 'TcpCRAcked':
          return { state: s, actions: [], reason: `ignored-${event.type}-in-${s.name}` };
        case 'HoldTimerExpires':
          return toIdleAfterError(s, t, 'hold-timer-expired', [holdTimerNotification(s)]);
        case 'KeepaliveTimerExpires':
          return keepaliveTick(s);
        case 'TcpConnectionFails':
          return toIdleAfterError(s, t, 'tcp-connection-failed');
        case 'NotifMsg':
          return toIdleAfterError(s, t, 'notification-received');
        case 'MessageError':
          if (event.error.treatment !== ErrorTreatment.sessionReset) {
            // RFC 7606: treat-as-withdraw and attribute-discard keep the session.
            return { state: s, actions: restartHold(s), reason: `update-error-${event.error.treatment}` };
          }
          return toIdleAfterError(s, t, 'message-error', [notification(event.error)]);
        case 'OpenCollisionDump':
          return toIdleAfterError(s, t, 'collision-dump', [{ type: 'sendNotification', code: ErrorCode.cease, subcode: CeaseSubcode.connectionCollisionResolution }]);
        case 'KeepAliveMsg':
          if (up) return { state: s, actions: restartHold(s), reason: 'keepalive-received' };
          return {
            state: { ...s, name: FsmStateName.established, connectRetryCounter: 0, idleHoldSeconds: t.idleHoldMinSeconds },
            actions: [...restartHold(s), { type: 'sessionUp', negotiated: s.negotiated! }],
            reason: 'established',
          };
        case 'UpdateMsg':
          if (up) return { state: s, actions: restartHold(s), reason: 'update-received' };
          return unexpected(s, t, event);
        case 'RouteRefreshMsg': {
          if (!up) return unexpected(s, t, event);
          const family = familyOf(event.afi, event.safi);
          // RFC 2918 §4: a refresh for an AFI/SAFI not negotiated "shall" be ignored.
          if (family === undefined || !s.negotiated!.families.includes(family)) return { state: s, actions: restartHold(s), reason: `route-refresh-for-unnegotiated-afi-${event.afi}-safi-${event.safi}-ignored` };
          return { state: s, actions: [...restartHold(s), { type: 'resendRoutes' }], reason: 'route-refresh-received' };
        }
        default:
          return unexpected(s, t, event);
      }
    }
  }
}
