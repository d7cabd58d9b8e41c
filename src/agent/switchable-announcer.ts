// An announcer whose implementation can be replaced while the agent runs: a settings change
// that adds or removes the `bgp` section switches between BGP and static routes without a
// restart. The agent keeps talking to this one object.
import type { Announcer } from './announcer.ts';

export interface SwitchableAnnouncer extends Announcer {
  /** The announcer in use now. */
  current(): Announcer;
  /**
   * Stops the one in use and hands the last advertisements to `next` at once, so the network
   * hears about every VIP again without waiting for the next reconcile pass.
   */
  swap(next: Announcer): Promise<void>;
}

export function switchableAnnouncer(initial: Announcer): SwitchableAnnouncer {
  let current = initial;
  let last: readonly string[] | undefined;
  return {
    get kind() {
      return current.kind;
    },
    current: () => current,
    setAdvertisements(prefixes) {
      last = prefixes;
      return current.setAdvertisements(prefixes);
    },
    async swap(next) {
      if (next === current) return;
      const old = current;
      // From here every pass talks to `next`; a pass still inside `old` may fail once, and the
      // advertisements below cover it.
      current = next;
      // The old one is replaced for good (e.g. the bgp section removed): routers withdraw its routes.
      await old.stop('remove');
      if (last !== undefined) await next.setAdvertisements(last);
    },
    stop: (kind) => current.stop(kind),
  };
}
