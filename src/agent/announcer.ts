import type { StopKind } from '../bgp/index.ts';

export type { StopKind } from '../bgp/index.ts';

/**
 * The seam between the agent and route announcement. The agent hands over the whole set of
 * prefixes it can serve right now (VIPs that are programmed and have a ready backend); an
 * announcer makes the network know. BGP plugs in here; without it, clients use a static route
 * (`vipgate routes` prints it).
 */
export interface Announcer {
  readonly kind: string;
  setAdvertisements(prefixes: readonly string[]): Promise<void>;
  /**
   * `restart` (default): another agent takes over soon, routers keep our routes meanwhile (BGP
   * graceful restart). `remove`: routers withdraw them now.
   */
  stop(kind?: StopKind): Promise<void>;
}

/** No routing protocol: remembers what would be announced, for the API and `vipgate routes`. */
export function staticRoutesAnnouncer(): Announcer & { current(): readonly string[] } {
  let prefixes: readonly string[] = [];
  return {
    kind: 'static',
    setAdvertisements(next) {
      prefixes = [...next];
      return Promise.resolve();
    },
    stop() {
      return Promise.resolve();
    },
    current: () => prefixes,
  };
}
