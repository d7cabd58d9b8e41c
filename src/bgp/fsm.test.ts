import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BgpMessageError, ErrorTreatment } from './errors.ts';
import { DEFAULT_TIMINGS, FsmStateName, OPEN_SENT_HOLD_SECONDS, initialFsmState, transition, type FsmEvent, type FsmState, type FsmStateName as Name } from './fsm.ts';
import type { SessionParameters } from './negotiate.ts';
import { AS_TRANS, CeaseSubcode, ErrorCode, FsmErrorSubcode, OpenErrorSubcode } from './wire/constants.ts';
import type { OpenMessage } from './wire/open.ts';

const params: SessionParameters = { localAsn: 65002, peerAsn: 65001, routerId: '10.10.12.2', holdTimeSeconds: 90, families: ['ipv4', 'ipv6'] };
const peerOpen = (over: Partial<OpenMessage> = {}): OpenMessage => ({
  type: 'open',
  version: 4,
  myAutonomousSystem: 65001,
  holdTimeSeconds: 9,
  bgpIdentifier: '10.10.12.1',
  capabilities: [
    { kind: 'multiprotocol', afi: 1, safi: 1 },
    { kind: 'four-octet-as', asn: 65001 },
  ],
  ...over,
});

function inState(name: Name, extra: Partial<FsmState> = {}): FsmState {
  const base = { ...initialFsmState(), name, ...extra };
  if (name === 'OpenConfirm' || name === 'Established') {
    const step = transition({ ...base, name: 'OpenSent' }, { type: 'BGPOpen', open: peerOpen() }, params);
    return { ...step.state, name, ...extra };
  }
  return base;
}

const types = (actions: readonly { type: string }[]): string[] => actions.map((a) => a.type);

test('Idle: ManualStart connects (or listens when passive); other events are ignored', () => {
  const s = initialFsmState();
  let t = transition(s, { type: 'ManualStart' }, params);
  assert.equal(t.state.name, FsmStateName.connect);
  assert.deepEqual(t.actions, [{ type: 'startTimer', timer: 'connectRetry', seconds: DEFAULT_TIMINGS.connectRetrySeconds }, { type: 'connect' }]);
  assert.equal(t.reason, 'manual-start');
  t = transition(s, { type: 'ManualStart', passive: true }, params);
  assert.equal(t.state.name, FsmStateName.active);
  assert.deepEqual(types(t.actions), ['startTimer']);
  for (const e of [{ type: 'KeepAliveMsg' }, { type: 'HoldTimerExpires' }, { type: 'TcpConnectionFails' }] as FsmEvent[]) {
    t = transition(s, e, params);
    assert.equal(t.state, s);
    assert.deepEqual(t.actions, []);
  }
});

test('Connect/Active: TCP up sends OPEN with the large hold timer; failure backs off', () => {
  for (const name of ['Connect', 'Active'] as const) {
    let t = transition(inState(name), { type: 'TcpCRAcked' }, params);
    assert.equal(t.state.name, FsmStateName.openSent, name);
    assert.deepEqual(t.actions, [
      { type: 'stopTimer', timer: 'connectRetry' },
      { type: 'sendOpen' },
      { type: 'startTimer', timer: 'hold', seconds: OPEN_SENT_HOLD_SECONDS },
    ]);
    t = transition(inState(name), { type: 'TcpConnectionConfirmed' }, params);
    assert.equal(t.reason, 'tcp-accepted');
    t = transition(inState(name, { idleHoldSeconds: 4 }), { type: 'TcpConnectionFails' }, params);
    assert.equal(t.state.name, FsmStateName.idle);
    assert.equal(t.state.connectRetryCounter, 1);
    assert.equal(t.state.idleHoldSeconds, 8, 'the backoff doubles');
    assert.deepEqual(t.actions.at(-1), { type: 'startTimer', timer: 'idleHold', seconds: 4 });
    t = transition(inState(name, { idleHoldSeconds: 60 }), { type: 'TcpConnectionFails' }, params);
    assert.equal(t.state.idleHoldSeconds, 60, 'and is capped');
  }
});

test('Connect: ConnectRetryTimerExpires retries; a passive session only rearms the timer', () => {
  let t = transition(inState('Connect'), { type: 'ConnectRetryTimerExpires' }, params);
  // The attempt given up on got no answer: the session says so (lastError).
  assert.deepEqual(types(t.actions), ['connectTimedOut', 'disconnect', 'startTimer', 'connect']);
  t = transition(inState('Active', { passive: true }), { type: 'ConnectRetryTimerExpires' }, params);
  assert.deepEqual(types(t.actions), ['startTimer']);
  assert.equal(t.state.name, FsmStateName.active);
});

test('OpenSent: a good OPEN negotiates hold = min(ours, theirs), keepalive = hold/3', () => {
  const t = transition(inState('OpenSent'), { type: 'BGPOpen', open: peerOpen() }, params);
  assert.equal(t.state.name, FsmStateName.openConfirm);
  assert.equal(t.state.negotiated?.holdTimeSeconds, 9);
  assert.equal(t.state.negotiated.keepaliveSeconds, 3);
  assert.ok(t.state.negotiated.fourOctetAs);
  assert.deepEqual(t.state.negotiated.families, ['ipv4'], 'the peer offered no IPv6');
  assert.deepEqual(t.actions, [
    { type: 'stopTimer', timer: 'connectRetry' },
    { type: 'sendKeepalive' },
    { type: 'startTimer', timer: 'keepalive', seconds: 3 },
    { type: 'startTimer', timer: 'hold', seconds: 9 },
  ]);
  const zero = transition(inState('OpenSent'), { type: 'BGPOpen', open: peerOpen({ holdTimeSeconds: 0 }) }, params);
  assert.deepEqual(types(zero.actions), ['stopTimer', 'sendKeepalive', 'stopTimer'], 'hold time 0: no timers');
});

test('OpenSent: a bad OPEN becomes the right NOTIFICATION', () => {
  const cases: [Partial<OpenMessage>, SessionParameters, number][] = [
    [{ capabilities: [{ kind: 'four-octet-as', asn: 65009 }] }, params, OpenErrorSubcode.badPeerAs],
    [{}, { ...params, holdTimeSeconds: 0 }, -1],
    [{ holdTimeSeconds: 3 }, { ...params, holdTimeSeconds: 3 }, -1],
    [{ bgpIdentifier: '10.10.12.2', myAutonomousSystem: 65002, capabilities: [] }, { ...params, peerAsn: 65002 }, OpenErrorSubcode.badBgpIdentifier],
  ];
  for (const [over, p, subcode] of cases) {
    const t = transition(inState('OpenSent'), { type: 'BGPOpen', open: peerOpen(over) }, p);
    if (subcode < 0) {
      assert.equal(t.state.name, FsmStateName.openConfirm, JSON.stringify(over));
      continue;
    }
    assert.equal(t.state.name, FsmStateName.idle);
    assert.equal(t.reason, 'open-rejected');
    const { detail, ...sent } = t.actions[0] as { detail?: string };
    assert.deepEqual(sent, { type: 'sendNotification', code: ErrorCode.openMessage, subcode, data: subcode === OpenErrorSubcode.badPeerAs ? Uint8Array.of(0xfd, 0xe9) : new Uint8Array(0) });
    assert.ok(detail !== undefined && detail.length > 0, 'the NOTIFICATION says why, for lastError');
  }
  // An old 2-octet peer sending AS_TRANS without the capability is not AS 65001.
  const t = transition(inState('OpenSent'), { type: 'BGPOpen', open: peerOpen({ myAutonomousSystem: AS_TRANS, capabilities: [] }) }, params);
  assert.equal(t.state.name, FsmStateName.idle);
});

test('unacceptable negotiated hold time (1 or 2 s) is refused', () => {
  const t = transition(inState('OpenSent'), { type: 'BGPOpen', open: peerOpen({ holdTimeSeconds: 9 }) }, { ...params, holdTimeSeconds: 2 });
  assert.deepEqual(t.actions[0], { type: 'sendNotification', code: ErrorCode.openMessage, subcode: OpenErrorSubcode.unacceptableHoldTime, data: new Uint8Array(0), detail: 'negotiated hold time 2 s; it must be 0 or at least 3' });
});

test('OpenConfirm: KEEPALIVE establishes the session; the KeepaliveTimer sends one', () => {
  const s = inState('OpenConfirm', { idleHoldSeconds: 16, connectRetryCounter: 3 });
  let t = transition(s, { type: 'KeepAliveMsg' }, params);
  assert.equal(t.state.name, FsmStateName.established);
  assert.equal(t.reason, 'established');
  assert.equal(t.state.idleHoldSeconds, DEFAULT_TIMINGS.idleHoldMinSeconds, 'a good session resets the backoff');
  assert.deepEqual(types(t.actions), ['startTimer', 'sessionUp']);
  t = transition(s, { type: 'KeepaliveTimerExpires' }, params);
  assert.deepEqual(t.actions, [{ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: 3 }]);
  assert.equal(t.state.name, FsmStateName.openConfirm);
});

test('Established: KEEPALIVE/UPDATE restart the hold timer; ROUTE-REFRESH resends', () => {
  const s = inState('Established');
  assert.deepEqual(transition(s, { type: 'KeepAliveMsg' }, params).actions, [{ type: 'startTimer', timer: 'hold', seconds: 9 }]);
  assert.deepEqual(transition(s, { type: 'UpdateMsg' }, params).actions, [{ type: 'startTimer', timer: 'hold', seconds: 9 }]);
  assert.deepEqual(types(transition(s, { type: 'RouteRefreshMsg', afi: 1, safi: 1 }, params).actions), ['startTimer', 'resendRoutes']);
});

test('Established: a ROUTE-REFRESH for an AFI/SAFI never negotiated is ignored (RFC 2918 §4)', () => {
  const s = inState('Established'); // the peer offered IPv4 unicast only
  for (const [afi, safi] of [[2, 1], [1, 128], [25, 65]] as const) {
    const t = transition(s, { type: 'RouteRefreshMsg', afi, safi }, params);
    assert.equal(t.state, s);
    assert.deepEqual(types(t.actions), ['startTimer'], `AFI ${afi} SAFI ${safi}`);
    assert.equal(t.reason, `route-refresh-for-unnegotiated-afi-${afi}-safi-${safi}-ignored`);
  }
});

test('ManualStop by kind: restart keeps routes (no NOTIFICATION, or one the N bit makes graceful); remove withdraws (Hard Reset with N)', () => {
  const gr = { ...params, gracefulRestart: { restartTimeSeconds: 60, restarting: false, forwardingPreserved: true } };
  const established = (peerN: boolean | undefined): FsmState => {
    const capabilities = [...peerOpen().capabilities];
    if (peerN !== undefined) capabilities.push({ kind: 'graceful-restart', restarting: false, notification: peerN, restartTimeSeconds: 120, families: [] });
    const step = transition({ ...initialFsmState(), name: 'OpenSent' }, { type: 'BGPOpen', open: peerOpen({ capabilities }) }, gr);
    return { ...step.state, name: 'Established' };
  };
  const notifications = (s: FsmState, kind: 'restart' | 'remove' | undefined, p: SessionParameters = gr): unknown[] =>
    transition(s, { type: 'ManualStop', shutdownMessage: 'bye', ...(kind === undefined ? {} : { kind }) }, p).actions.filter((a) => a.type === 'sendNotification');
  const cease = { type: 'sendNotification', code: ErrorCode.cease, subcode: CeaseSubcode.administrativeShutdown, shutdownMessage: 'bye' };
  const hardReset = { type: 'sendNotification', code: ErrorCode.cease, subcode: CeaseSubcode.hardReset, data: Uint8Array.of(6, 2, 3, 0x62, 0x79, 0x65) };
  // A GR helper without the N bit (BIRD 2.0.12): a closed connection is what keeps the routes.
  assert.deepEqual(notifications(established(false), 'restart'), []);
  assert.deepEqual(notifications(established(false), 'remove'), [cease]);
  // Both sides with the N bit: the CEASE is graceful; removal needs Hard Reset.
  assert.deepEqual(notifications(established(true), 'restart'), [cease]);
  assert.deepEqual(notifications(established(true), 'remove'), [hardReset]);
  assert.deepEqual(notifications(established(true), undefined), [hardReset], 'a stop without a kind is a removal');
  // A peer without graceful restart cannot keep anything: a clean CEASE beats a hold-timer wait.
  assert.deepEqual(notifications(established(undefined), 'restart'), [cease]);
  // We do not offer graceful restart: the peer's N bit means nothing.
  assert.deepEqual(notifications(established(true), 'restart', params), [cease]);
  assert.equal(transition(established(false), { type: 'ManualStop', kind: 'restart' }, gr).reason, 'manual-stop-for-restart');
  // Before Established nothing is kept either way.
  assert.deepEqual(notifications(inState('OpenSent'), 'restart'), [cease]);
});

test('hold timer expiry sends NOTIFICATION 4 and drops the session in every open state', () => {
  for (const name of ['OpenSent', 'OpenConfirm', 'Established'] as const) {
    const t = transition(inState(name), { type: 'HoldTimerExpires' }, params);
    assert.equal(t.state.name, FsmStateName.idle);
    assert.equal(t.reason, 'hold-timer-expired');
    const seconds = name === 'OpenSent' ? OPEN_SENT_HOLD_SECONDS : 9;
    assert.deepEqual(t.actions[0], { type: 'sendNotification', code: ErrorCode.holdTimerExpired, subcode: 0, detail: `nothing heard from the peer in ${seconds} s` });
    assert.ok(types(t.actions).includes('disconnect'));
    assert.equal(types(t.actions).includes('sessionDown'), name === 'Established', name);
    assert.equal(t.state.negotiated, undefined);
  }
});

test('message errors: session-reset sends the error as NOTIFICATION; RFC 7606 softer ones keep the session', () => {
  const reset = new BgpMessageError(3, 1, Uint8Array.of(9), ErrorTreatment.sessionReset, 'x');
  let t = transition(inState('Established'), { type: 'MessageError', error: reset }, params);
  assert.equal(t.state.name, FsmStateName.idle);
  assert.deepEqual(t.actions[0], { type: 'sendNotification', code: 3, subcode: 1, data: Uint8Array.of(9), detail: 'x' });
  const withdraw = new BgpMessageError(3, 6, new Uint8Array(0), ErrorTreatment.treatAsWithdraw, 'x');
  t = transition(inState('Established'), { type: 'MessageError', error: withdraw }, params);
  assert.equal(t.state.name, FsmStateName.established);
  assert.equal(t.reason, 'update-error-treat-as-withdraw');
  t = transition(inState('OpenSent'), { type: 'MessageError', error: reset }, params);
  assert.equal(t.state.name, FsmStateName.idle);
});

test('NOTIFICATION received or TCP lost: back to Idle without sending anything', () => {
  for (const name of ['OpenSent', 'OpenConfirm', 'Established'] as const) {
    for (const e of [{ type: 'NotifMsg', notification: { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) } }, { type: 'TcpConnectionFails' }] as FsmEvent[]) {
      const t = transition(inState(name), e, params);
      assert.equal(t.state.name, FsmStateName.idle);
      assert.ok(!types(t.actions).includes('sendNotification'), `${name} ${e.type}`);
    }
  }
});

test('unexpected messages give the RFC 6608 FSM error for the state', () => {
  const cases: [Name, FsmEvent, number][] = [
    ['OpenSent', { type: 'KeepAliveMsg' }, FsmErrorSubcode.unexpectedInOpenSent],
    ['OpenSent', { type: 'UpdateMsg' }, FsmErrorSubcode.unexpectedInOpenSent],
    ['OpenConfirm', { type: 'UpdateMsg' }, FsmErrorSubcode.unexpectedInOpenConfirm],
    ['Established', { type: 'BGPOpen', open: peerOpen() }, FsmErrorSubcode.unexpectedInEstablished],
  ];
  for (const [name, event, subcode] of cases) {
    const t = transition(inState(name), event, params);
    assert.deepEqual(t.actions[0], { type: 'sendNotification', code: ErrorCode.finiteStateMachine, subcode }, `${name} ${event.type}`);
    assert.equal(t.state.name, FsmStateName.idle);
  }
  // Before OPEN is exchanged there is nobody to notify.
  const t = transition(inState('Connect'), { type: 'KeepAliveMsg' }, params);
  assert.ok(!types(t.actions).includes('sendNotification'));
});

test('ManualStop: Cease/Administrative Shutdown with the RFC 8203 message, no automatic restart', () => {
  const t = transition(inState('Established'), { type: 'ManualStop', shutdownMessage: 'agent stopping' }, params);
  assert.equal(t.state.name, FsmStateName.idle);
  assert.deepEqual(t.actions[0], { type: 'sendNotification', code: ErrorCode.cease, subcode: CeaseSubcode.administrativeShutdown, shutdownMessage: 'agent stopping' });
  assert.ok(types(t.actions).includes('sessionDown'));
  assert.ok(!t.actions.some((a) => a.type === 'startTimer'), 'a manual stop must not schedule a restart');
  const fromConnect = transition(inState('Connect'), { type: 'ManualStop' }, params);
  assert.ok(!types(fromConnect.actions).includes('sendNotification'));
  const fromIdle = transition(initialFsmState(), { type: 'ManualStop' }, params);
  assert.deepEqual(fromIdle.actions, [{ type: 'stopTimer', timer: 'idleHold' }], 'cancels a pending automatic restart');
});

test('collision dump sends Cease/Connection Collision Resolution', () => {
  const t = transition(inState('OpenConfirm'), { type: 'OpenCollisionDump' }, params);
  assert.deepEqual(t.actions[0], { type: 'sendNotification', code: ErrorCode.cease, subcode: CeaseSubcode.connectionCollisionResolution });
});

test('Idle after an error: AutomaticStart restarts in the same mode', () => {
  const idle = transition(inState('Active', { passive: true }), { type: 'TcpConnectionFails' }, params).state;
  const t = transition(idle, { type: 'AutomaticStart' }, params);
  assert.equal(t.state.name, FsmStateName.active);
  assert.equal(t.reason, 'automatic-start');
});
