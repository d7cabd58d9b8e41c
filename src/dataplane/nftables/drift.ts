import type { InstalledState } from './diff.ts';
import { normalizeElement, type Listing } from './listing.ts';
import {
  BaseChains,
  SetNames,
  baseChainRules,
  counterName,
  filterChain,
  natChain,
  setElements,
  type RenderOptions,
  type SetName,
} from './render.ts';

export interface Drift {
  /** The skeleton (base chains, set declarations) differs: only a whole-table replace is safe. */
  readonly fullReplace: boolean;
  readonly staleFrontends: ReadonlySet<string>;
  readonly staleSets: ReadonlySet<SetName>;
  readonly strayChains: readonly string[];
  readonly strayCounters: readonly string[];
  /** Names of what differs, for the log; empty when the kernel matches. */
  readonly what: readonly string[];
}

const sameElements = (listed: readonly string[], wanted: readonly string[]): boolean => {
  if (listed.length !== wanted.length) return false;
  const want = new Set(wanted);
  return listed.every((e) => want.has(normalizeElement(e)));
};

/**
 * Compares the kernel's listing of the table with what was installed. Rules are rendered in
 * the form nft lists them back (a lab test holds this), and elements are compared after normalizing the
 * text, so an unchanged kernel shows no drift.
 */
export function findDrift(listing: Listing, installed: InstalledState, options: RenderOptions): Drift {
  const what: string[] = [];
  const base = baseChainRules(options);
  for (const name of BaseChains) {
    if (listing.chains.get(name) !== base[name].join('\n')) what.push(`chain ${name}`);
  }
  for (const name of Object.values(SetNames)) {
    if (!listing.sets.has(name)) what.push(`set ${name} missing`);
  }
  if (what.length > 0) {
    return { fullReplace: true, staleFrontends: new Set(), staleSets: new Set(), strayChains: [], strayCounters: [], what };
  }
  const staleFrontends = new Set<string>();
  const owned = new Set<string>(BaseChains);
  const ownedCounters = new Set<string>();
  for (const f of installed.frontends.values()) {
    owned.add(natChain(f.id));
    owned.add(filterChain(f.id));
    ownedCounters.add(counterName(f.id));
    const expected = (rules: readonly string[]): string => rules.join('\n');
    if (
      listing.chains.get(natChain(f.id)) !== expected(f.natRules) ||
      listing.chains.get(filterChain(f.id)) !== expected(f.filterRules) ||
      !listing.counters.has(counterName(f.id))
    ) {
      staleFrontends.add(f.id);
      what.push(`frontend ${f.key}`);
    }
  }
  const wanted = setElements(installed);
  const staleSets = new Set<SetName>();
  for (const name of Object.values(SetNames)) {
    if (!sameElements(listing.sets.get(name) ?? [], wanted[name])) {
      staleSets.add(name);
      what.push(`set ${name}`);
    }
  }
  const strayChains = [...listing.chains.keys()].filter((name) => !owned.has(name));
  const strayCounters = [...listing.counters.keys()].filter((name) => !ownedCounters.has(name));
  for (const name of strayChains) what.push(`stray chain ${name}`);
  for (const name of strayCounters) what.push(`stray counter ${name}`);
  return { fullReplace: false, staleFrontends, staleSets, strayChains, strayCounters, what };
}
