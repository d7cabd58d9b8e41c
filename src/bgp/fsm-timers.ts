// The FSM's named timers (RFC 4271 §8: ConnectRetry, Hold, Keepalive, and the restart delay) for
// one session: starting one that runs restarts it, and each expiry becomes the FSM event of its name.
import type { FsmEvent, TimerName } from './fsm.ts';
import type { CancelTimer, Timers } from './runtime.ts';

const EXPIRY: Record<TimerName, FsmEvent> = {
  connectRetry: { type: 'ConnectRetryTimerExpires' },
  hold: { type: 'HoldTimerExpires' },
  keepalive: { type: 'KeepaliveTimerExpires' },
  idleHold: { type: 'AutomaticStart' },
};

export class FsmTimers {
  readonly #running = new Map<TimerName, CancelTimer>();

  constructor(
    private readonly timers: Timers,
    /** Called with the timer's FSM event when it expires. */
    private readonly expired: (event: FsmEvent) => void,
  ) {}

  start(timer: TimerName, seconds: number): void {
    this.stop(timer);
    this.#running.set(
      timer,
      this.timers.setTimer(() => {
        this.#running.delete(timer);
        this.expired(EXPIRY[timer]);
      }, seconds * 1000),
    );
  }

  stop(timer: TimerName): void {
    this.#running.get(timer)?.();
    this.#running.delete(timer);
  }

  stopAll(): void {
    for (const timer of [...this.#running.keys()]) this.stop(timer);
  }
}
