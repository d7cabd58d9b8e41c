import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BfdDiagnostic, BfdState } from './constants.ts';
import { controlPacketOf, detectionTimeMs, initialBfdState, transition, transmitIntervalMs, type BfdSessionState } from './fsm.ts';
import type { BfdControlPacket } from './packet.ts';

const LOCAL = 0x1000;
const REMOTE = 0x2000;
const config = { desiredMinTxUs: 300_000, requiredMinRxUs: 300_000, detectMult: 3 };
const fresh = initialBfdState(LOCAL, config);
const inState = (sessionState: BfdState, extra: Partial<BfdSessionState> = {}): BfdSessionState => ({ ...fresh, sessionState, remoteDiscr: REMOTE, ...extra });

/** What BIRD sends: its own timers 300 ms × 3 unless the row says otherwise. */
const from = (state: BfdState, over: Partial<BfdControlPacket> = {}): BfdControlPacket => ({
  diagnostic: BfdDiagnostic.none,
  state,
  poll: false,
  final: false,
  controlPlaneIndependent: false,
  demand: false,
  detectMult: 3,
  myDiscriminator: REMOTE,
  yourDiscriminator: state === BfdState.down ? 0 : LOCAL,
  desiredMinTxUs: 300_000,
  requiredMinRxUs: 300_000,
  requiredMinEchoRxUs: 0,
  ...over,
});
const received = (s: BfdSessionState, p: BfdControlPacket) => transition(s, { type: 'PacketReceived', packet: p });
const types = (actions: readonly { type: string }[]): string[] => actions.map((a) => a.type);

test('a new session is Down, sends at 1 s (§6.8.3) and has no remote discriminator', () => {
  assert.equal(fresh.sessionState, BfdState.down);
  assert.equal(fresh.remoteDiscr, 0);
  assert.equal(transmitIntervalMs(fresh), 1000);
  assert.equal(controlPacketOf(fresh, false).yourDiscriminator, 0);
  assert.equal(controlPacketOf(fresh, false).desiredMinTxUs, 1_000_000);
});

// §6.8.6 state table, row by row: [our state, received state, our next state, diagnostic].
const rows: readonly [BfdState, BfdState, BfdState, BfdDiagnostic][] = [
  [BfdState.down, BfdState.down, BfdState.init, BfdDiagnostic.none],
  [BfdState.down, BfdState.init, BfdState.up, BfdDiagnostic.none],
  [BfdState.down, BfdState.up, BfdState.down, BfdDiagnostic.none],
  [BfdState.down, BfdState.adminDown, BfdState.down, BfdDiagnostic.none],
  [BfdState.init, BfdState.down, BfdState.init, BfdDiagnostic.none],
  [BfdState.init, BfdState.init, BfdState.up, BfdDiagnostic.none],
  [BfdState.init, BfdState.up, BfdState.up, BfdDiagnostic.none],
  [BfdState.init, BfdState.adminDown, BfdState.down, BfdDiagnostic.neighborSignaledSessionDown],
  [BfdState.up, BfdState.down, BfdState.down, BfdDiagnostic.neighborSignaledSessionDown],
  [BfdState.up, BfdState.init, BfdState.up, BfdDiagnostic.none],
  [BfdState.up, BfdState.up, BfdState.up, BfdDiagnostic.none],
  [BfdState.up, BfdState.adminDown, BfdState.down, BfdDiagnostic.neighborSignaledSessionDown],
];
for (const [ours, theirs, next, diagnostic] of rows) {
  test(`§6.8.6: ${ours} receiving ${theirs} → ${next}`, () => {
    const t = received(inState(ours), from(theirs));
    assert.equal(t.state.sessionState, next);
    assert.equal(t.state.localDiag, diagnostic);
    assert.equal(t.state.remoteDiscr, REMOTE);
    const change = t.actions.find((a) => a.type === 'stateChanged');
    assert.deepEqual(change, next === ours ? undefined : { type: 'stateChanged', from: ours, to: next, diagnostic });
    // Every accepted packet restarts the detection timer: 3 × max(300 ms, 300 ms).
    assert.deepEqual(t.actions.filter((a) => a.type === 'startDetectionTimer'), [{ type: 'startDetectionTimer', ms: 900 }]);
    if (next !== ours) assert.ok(types(t.actions).includes('sendControl'), 'a state change is told to the peer at once');
  });
}

test('AdminDown discards every packet', () => {
  const s = inState(BfdState.adminDown);
  const t = received(s, from(BfdState.init));
  assert.equal(t.state, s);
  assert.deepEqual(t.actions, []);
});

test('a packet for another discriminator is discarded', () => {
  const s = inState(BfdState.up);
  const t = received(s, from(BfdState.down, { yourDiscriminator: LOCAL + 1 }));
  assert.equal(t.state, s);
  assert.deepEqual(t.actions, []);
});

test('going Up switches to the configured rate with a Poll; the Final ends it', () => {
  let t = received(inState(BfdState.init), from(BfdState.up));
  assert.equal(t.state.desiredMinTxUs, 300_000);
  assert.equal(t.state.polling, true);
  assert.equal(t.state.wasUp, true);
  assert.ok(t.actions.some((a) => a.type === 'setTransmitInterval' && a.ms === 300));
  assert.equal(controlPacketOf(t.state, false).poll, true);
  t = received(t.state, from(BfdState.up, { final: true }));
  assert.equal(t.state.polling, false);
  assert.equal(controlPacketOf(t.state, false).poll, false);
});

test('a Poll is answered at once with a Final and no Poll', () => {
  const t = received(inState(BfdState.up, { polling: true }), from(BfdState.up, { poll: true }));
  assert.deepEqual(t.actions.filter((a) => a.type === 'sendControl'), [{ type: 'sendControl', final: true }]);
  const answer = controlPacketOf(t.state, true);
  assert.equal(answer.final, true);
  assert.equal(answer.poll, false);
});

test('detection time is the remote Detect Mult × the greater of our RX and its TX interval (§6.8.4)', () => {
  const t = received(inState(BfdState.up), from(BfdState.up, { detectMult: 5, desiredMinTxUs: 1_000_000 }));
  assert.equal(detectionTimeMs(t.state), 5000);
  assert.deepEqual(t.actions.find((a) => a.type === 'startDetectionTimer'), { type: 'startDetectionTimer', ms: 5000 });
});

test('our transmit interval follows the remote Required Min RX when it is slower', () => {
  const t = received(inState(BfdState.up, { desiredMinTxUs: 300_000 }), from(BfdState.up, { requiredMinRxUs: 500_000 }));
  assert.deepEqual(t.actions.find((a) => a.type === 'setTransmitInterval'), { type: 'setTransmitInterval', ms: 500 });
});

test('detection time expiring in Up → Down (diag 1), back to the slow rate, remote discriminator cleared', () => {
  const t = transition(inState(BfdState.up, { desiredMinTxUs: 300_000, wasUp: true }), { type: 'DetectionTimerExpired' });
  assert.equal(t.state.sessionState, BfdState.down);
  assert.equal(t.state.localDiag, BfdDiagnostic.controlDetectionTimeExpired);
  assert.equal(t.state.remoteDiscr, 0);
  assert.equal(t.state.desiredMinTxUs, 1_000_000);
  assert.equal(t.reason, 'detection-time-expired');
  assert.deepEqual(t.actions.find((a) => a.type === 'stateChanged'), { type: 'stateChanged', from: BfdState.up, to: BfdState.down, diagnostic: BfdDiagnostic.controlDetectionTimeExpired });
});

test('detection time expiring in Init → Down; in Down only the remote discriminator is cleared', () => {
  assert.equal(transition(inState(BfdState.init), { type: 'DetectionTimerExpired' }).state.sessionState, BfdState.down);
  const t = transition(inState(BfdState.down), { type: 'DetectionTimerExpired' });
  assert.equal(t.state.sessionState, BfdState.down);
  assert.equal(t.state.remoteDiscr, 0);
  assert.ok(!types(t.actions).includes('stateChanged'));
});

test('AdminDown (diag 7) and AdminUp back to Down', () => {
  let t = transition(inState(BfdState.up), { type: 'AdminDown' });
  assert.equal(t.state.sessionState, BfdState.adminDown);
  assert.equal(controlPacketOf(t.state, false).diagnostic, BfdDiagnostic.administrativelyDown);
  assert.ok(types(t.actions).includes('sendControl'));
  t = transition(t.state, { type: 'AdminUp' });
  assert.equal(t.state.sessionState, BfdState.down);
  assert.deepEqual(transition(inState(BfdState.up), { type: 'AdminUp' }).actions, []);
});

test('a full three-way handshake between two machines ends Up on both', () => {
  let a = initialBfdState(1, config);
  let b = initialBfdState(2, config);
  // a → b (Down, your discr 0), b → a (Init), a → b (Up)
  b = received(b, controlPacketOf(a, false)).state;
  assert.equal(b.sessionState, BfdState.init);
  a = received(a, controlPacketOf(b, false)).state;
  assert.equal(a.sessionState, BfdState.up);
  b = received(b, controlPacketOf(a, false)).state;
  assert.equal(b.sessionState, BfdState.up);
});
