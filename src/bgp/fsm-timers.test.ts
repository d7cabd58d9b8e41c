import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FsmEvent } from './fsm.ts';
import { FsmTimers } from './fsm-timers.ts';
import type { Timers } from './runtime.ts';

/** Timers run by hand: `advance(ms)` fires what is due. */
function manualTimers(): Timers & { advance(ms: number): void } {
  let now = 0;
  const due = new Map<number, { at: number; run: () => void }>();
  let next = 0;
  return {
    now: () => now,
    setTimer(run, ms) {
      const id = next++;
      due.set(id, { at: now + ms, run });
      return () => void due.delete(id);
    },
    advance(ms) {
      now += ms;
      for (const [id, t] of [...due]) {
        if (t.at <= now) {
          due.delete(id);
          t.run();
        }
      }
    },
  };
}

test('a timer that expires becomes the FSM event of its name; starting a running one restarts it', () => {
  const timers = manualTimers();
  const events: FsmEvent[] = [];
  const fsm = new FsmTimers(timers, (e) => events.push(e));
  fsm.start('hold', 3);
  timers.advance(2000);
  fsm.start('hold', 3); // a KEEPALIVE came in: the hold timer starts over
  timers.advance(2000);
  assert.deepEqual(events, []);
  timers.advance(1000);
  assert.deepEqual(events, [{ type: 'HoldTimerExpires' }]);
});

test('stopped timers never fire', () => {
  const timers = manualTimers();
  const events: FsmEvent[] = [];
  const fsm = new FsmTimers(timers, (e) => events.push(e));
  fsm.start('keepalive', 1);
  fsm.start('connectRetry', 1);
  fsm.stop('keepalive');
  timers.advance(1000);
  assert.deepEqual(events, [{ type: 'ConnectRetryTimerExpires' }]);
  fsm.start('hold', 1);
  fsm.start('idleHold', 1);
  fsm.stopAll();
  timers.advance(5000);
  assert.deepEqual(events, [{ type: 'ConnectRetryTimerExpires' }]);
});
