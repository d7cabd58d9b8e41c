import type { Family } from '../../net/index.ts';
import {
  SET_DECLARATIONS,
  SetNames,
  TABLE,
  counterName,
  filterChain,
  filterElement,
  natChain,
  natElement,
  setElements,
  type RenderedFrontend,
  type RenderedTable,
  type SetName,
} from './render.ts';

/** What this process believes the kernel holds, plus what a drift check found unknown. */
export interface InstalledState {
  readonly frontends: ReadonlyMap<string, RenderedFrontend>;
  readonly deny: Readonly<Record<Family, readonly string[]>>;
  /** Sets/maps whose kernel content differs from `frontends`/`deny`: flushed and refilled whole. */
  readonly staleSets?: ReadonlySet<SetName>;
  /** Frontend ids whose chains or counter differ from what was applied: rewritten whole. */
  readonly staleFrontends?: ReadonlySet<string>;
  /** Chains and counters in the table that no frontend owns: deleted. */
  readonly strayChains?: readonly string[];
  readonly strayCounters?: readonly string[];
}

export interface Transaction {
  /** nft text of one atomic transaction; empty when nothing differs. */
  readonly text: string;
  /** Frontend ids whose chains or elements were added or changed. */
  readonly written: readonly string[];
  /** Frontend ids removed. */
  readonly removed: readonly string[];
  /** Chains this transaction (re)writes. */
  readonly chainsWritten: readonly string[];
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The element's key: for a map, the part before " : "; a map element is deleted by key. */
const keyOf = (element: string): string => {
  const at = element.indexOf(' : ');
  return at < 0 ? element : element.slice(0, at);
};

/** Elements in batches, so that 100k elements don't become one huge line. */
function elementCommands(verb: 'add' | 'delete', set: SetName, elements: readonly string[], out: string[]): void {
  const BATCH = 1000;
  for (let i = 0; i < elements.length; i += BATCH) {
    out.push(`${verb} element ${TABLE} ${set} { ${elements.slice(i, i + BATCH).join(', ')} }`);
  }
}

function writeChain(name: string, rules: readonly string[], ensure: boolean, out: string[]): void {
  // `add chain` is a no-op for an existing chain; it is only needed where the chain may be gone.
  if (ensure) out.push(`add chain ${TABLE} ${name}`);
  out.push(`flush chain ${TABLE} ${name}`);
  for (const rule of rules) out.push(`add rule ${TABLE} ${name} ${rule}`);
}

/** Per-frontend elements of the sets whose content follows the frontend (not the deny sets). */
function frontendElements(f: RenderedFrontend | undefined): [SetName, readonly string[]][] {
  if (f === undefined) return [];
  const v4 = f.family === 4;
  return [
    [v4 ? SetNames.nat4 : SetNames.nat6, [natElement(f)]],
    [v4 ? SetNames.filter4 : SetNames.filter6, [filterElement(f)]],
    [v4 ? SetNames.allow4 : SetNames.allow6, f.allow],
  ];
}

/**
 * The one transaction that turns the installed state into the desired one, touching only what
 * differs: a frontend whose backends changed gets its nat chain flushed and rewritten, and
 * nothing else is mentioned.
 * Order inside the transaction: elements that point at chains go before those chains are
 * deleted, and new chains exist before elements point at them.
 */
export function diffTables(installed: InstalledState, desired: RenderedTable): Transaction {
  const stale = installed.staleSets ?? new Set<SetName>();
  const staleFronts = installed.staleFrontends ?? new Set<string>();
  const removed = [...installed.frontends.values()].filter((f) => !desired.frontends.has(f.id));
  const deletes = new Map<SetName, string[]>();
  const adds = new Map<SetName, string[]>();
  const push = (m: Map<SetName, string[]>, set: SetName, items: Iterable<string>): void => {
    const list = m.get(set) ?? [];
    for (const item of items) list.push(item);
    m.set(set, list);
  };
  const chainOps: string[] = [];
  const deletions: string[] = [];
  const written: string[] = [];
  const chainsWritten: string[] = [];

  const diffElements = (old: RenderedFrontend | undefined, next: RenderedFrontend | undefined): boolean => {
    const before = new Map(frontendElements(old));
    const after = new Map(frontendElements(next));
    let changed = false;
    for (const set of new Set([...before.keys(), ...after.keys()])) {
      if (stale.has(set)) continue; // refilled whole below
      const was = before.get(set) ?? [];
      const now = after.get(set) ?? [];
      if (sameList(was, now)) continue;
      changed = true;
      const keep = new Set(now);
      const gone = was.filter((e) => !keep.has(e));
      const had = new Set(was);
      const fresh = now.filter((e) => !had.has(e));
      // A map element whose value changes is deleted and added again in the same transaction.
      push(deletes, set, (SET_DECLARATIONS[set].kind === 'map' ? gone.map(keyOf) : gone));
      push(adds, set, fresh);
    }
    return changed;
  };

  for (const f of removed) {
    diffElements(f, undefined);
    deletions.push(`delete chain ${TABLE} ${natChain(f.id)}`, `delete chain ${TABLE} ${filterChain(f.id)}`, `delete counter ${TABLE} ${counterName(f.id)}`);
  }
  for (const name of installed.strayChains ?? []) deletions.push(`delete chain ${TABLE} ${name}`);
  for (const name of installed.strayCounters ?? []) deletions.push(`delete counter ${TABLE} ${name}`);

  for (const f of desired.frontends.values()) {
    const old = installed.frontends.get(f.id);
    if (old === undefined) {
      chainOps.push(`add counter ${TABLE} ${counterName(f.id)}`, `add chain ${TABLE} ${natChain(f.id)}`, `add chain ${TABLE} ${filterChain(f.id)}`);
      for (const rule of f.natRules) chainOps.push(`add rule ${TABLE} ${natChain(f.id)} ${rule}`);
      for (const rule of f.filterRules) chainOps.push(`add rule ${TABLE} ${filterChain(f.id)} ${rule}`);
      diffElements(undefined, f);
      written.push(f.id);
      chainsWritten.push(natChain(f.id), filterChain(f.id));
      continue;
    }
    const drifted = staleFronts.has(f.id);
    const natChanged = drifted || !sameList(old.natRules, f.natRules);
    const filterChanged = drifted || !sameList(old.filterRules, f.filterRules);
    // A drifted frontend may have lost its counter; `add counter` keeps an existing one's values.
    if (drifted) chainOps.push(`add counter ${TABLE} ${counterName(f.id)}`);
    if (natChanged) {
      writeChain(natChain(f.id), f.natRules, drifted, chainOps);
      chainsWritten.push(natChain(f.id));
    }
    if (filterChanged) {
      writeChain(filterChain(f.id), f.filterRules, drifted, chainOps);
      chainsWritten.push(filterChain(f.id));
    }
    // Same id means the same map key, so only the allow elements can differ.
    const allowChanged = !sameList(old.allow, f.allow) && diffElements(old, f);
    if (allowChanged || natChanged || filterChanged) written.push(f.id);
  }

  const desiredElements = stale.size > 0 ? setElements(desired) : undefined;
  const flushes: string[] = [];
  for (const set of stale) {
    flushes.push(`flush ${SET_DECLARATIONS[set].kind} ${TABLE} ${set}`);
    push(adds, set, desiredElements?.[set] ?? []);
  }
  for (const family of [4, 6] as const) {
    const set = family === 4 ? SetNames.deny4 : SetNames.deny6;
    if (!stale.has(set) && !sameList(installed.deny[family], desired.deny[family])) {
      // A changed deny list is rewritten whole: it is short, and flush + refill in one
      // transaction never leaves a moment without it.
      flushes.push(`flush set ${TABLE} ${set}`);
      push(adds, set, desired.deny[family]);
    }
  }

  const lines: string[] = [...flushes];
  for (const [set, elements] of deletes) elementCommands('delete', set, elements, lines);
  lines.push(...deletions, ...chainOps);
  for (const [set, elements] of adds) elementCommands('add', set, elements, lines);
  return {
    text: lines.length === 0 ? '' : `${lines.join('\n')}\n`,
    written,
    removed: removed.map((f) => f.id),
    chainsWritten,
  };
}

/** The installed state that a successful apply of `rendered` leaves. */
export function installedFrom(rendered: RenderedTable): InstalledState {
  return { frontends: rendered.frontends, deny: rendered.deny };
}
