/** The speaker's seams to the outside world: time, timers, logging. Tests replace them. */

/** Cancels a timer set with `setTimer`. */
export type CancelTimer = () => void;

export interface Timers {
  /** Milliseconds since an arbitrary epoch; used for uptimes. */
  readonly now: () => number;
  readonly setTimer: (fn: () => void, ms: number) => CancelTimer;
}

/**
 * Real time. The globals are looked up at call time so that node:test's `mock.timers` (which
 * replaces setTimeout and Date) also drives the default.
 */
export const realTimers: Timers = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    return () => clearTimeout(handle);
  },
};

/** The subset of pino's API the speaker uses; a pino logger fits as is. */
export interface BgpLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  child(bindings: object): BgpLogger;
}

export const silentLogger: BgpLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  child: () => silentLogger,
};
