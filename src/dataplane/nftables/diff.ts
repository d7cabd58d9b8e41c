import type { Family } from '../../net/index.ts';
import {
  TABLE,
  backendsOf,
  contentSignature,
  pickRule,
  setsOf,
  skeletonText,
  type FrontendEntry,
  type RenderOptions,
  type RenderedFrontend,
  type RenderedTable,
  type SetName,
} from './render.ts';
import { elementText, type Prefix, type SetElement } from './set-elements.ts';

/** What the kernel holds: as this process applied it, or as read back from a listing. */
export interface InstalledState {
  /** By frontend key. */
  readonly frontends: ReadonlyMap<string, FrontendEntry>;
  readonly deny: Readonly<Record<Family, readonly Prefix[]>>;
  /** Chains other than the fixed ones (pick chains, or strays when read back): name → body. */
  readonly chains: ReadonlyMap<string, string>;
  /**
   * Pick chain → how many of `frontends` point at it, kept with the state so that a change of
   * one frontend does not count the other 10k again.
   */
  readonly pickUse: ReadonlyMap<string, number>;
}

export const EMPTY_INSTALLED: InstalledState = { frontends: new Map(), deny: { 4: [], 6: [] }, chains: new Map(), pickUse: new Map() };

/**
 * Element changes of one set: added or deleted elements (structures, which the nft text path
 * renders with `elementText` and the netlink path encodes as they are), or the set emptied.
 */
export type ElementOp =
  | { readonly verb: 'add' | 'delete'; readonly set: SetName; readonly elements: readonly SetElement[] }
  | { readonly verb: 'flush'; readonly set: SetName };

/**
 * One atomic step from one installed state to the next. Element changes are kept apart from
 * the commands on chains so that they can go to the kernel either as nft text (one
 * libnftables transaction, `transactionLines`) or as an nfnetlink batch of their own.
 */
export interface Transaction {
  /** Commands that come before everything else (the table's replace preamble), as nft text. */
  readonly preamble: readonly string[];
  /** Deny-list flushes and element deletions, verdict elements first. */
  readonly deletes: readonly ElementOp[];
  /** Pick chains no frontend uses any more: deleted after the elements that point at them. */
  readonly chainsRemoved: readonly string[];
  /** Pick chains written (new, or drifted): name → rule; written before elements point at them. */
  readonly chainsWritten: ReadonlyMap<string, string>;
  /** Element additions, verdict elements last. */
  readonly adds: readonly ElementOp[];
  /** nft commands of the whole step in order (derived; empty when nothing differs). */
  readonly lines: readonly string[];
  /** Frontend keys whose elements were added or changed. */
  readonly written: readonly string[];
  /** Frontend keys removed. */
  readonly removed: readonly string[];
  /** What the kernel holds once this transaction is committed. */
  readonly after: InstalledState;
}

/** Elements per command or netlink message, so that 100k elements don't become one huge line. */
export const ELEMENT_BATCH = 1000;

/** The commands that write a set of chains, as nft text. */
export function chainLines(chains: ReadonlyMap<string, string>): string[] {
  const lines: string[] = [];
  // `add chain` is a no-op for an existing (drifted) chain; flush then empties it.
  for (const [name, rule] of chains) lines.push(`add chain ${TABLE} ${name}`, `flush chain ${TABLE} ${name}`, `add rule ${TABLE} ${name} ${rule}`);
  return lines;
}

/** The element changes as nft text. */
export function elementLines(ops: readonly ElementOp[]): string[] {
  const lines: string[] = [];
  for (const op of ops) {
    if (op.verb === 'flush') lines.push(`flush set ${TABLE} ${op.set}`);
    else lines.push(`${op.verb} element ${TABLE} ${op.set} { ${op.elements.map(elementText).join(', ')} }`);
  }
  return lines;
}

/** Every command of a step, in the order one nft transaction needs them. */
export function transactionLines(tx: Omit<Transaction, 'lines' | 'written' | 'removed' | 'after'>): string[] {
  return [
    ...tx.preamble,
    ...elementLines(tx.deletes),
    ...tx.chainsRemoved.map((name) => `delete chain ${TABLE} ${name}`),
    ...chainLines(tx.chainsWritten),
    ...elementLines(tx.adds),
  ];
}

/** A transaction whose `lines` are computed when first read (the netlink path never reads them). */
function makeTransaction(fields: Omit<Transaction, 'lines'>): Transaction {
  let lines: string[] | undefined;
  return {
    ...fields,
    get lines() {
      lines ??= transactionLines(fields);
      return lines;
    },
  };
}

/** True when a step changes nothing in the kernel. */
export const isEmptyTransaction = (tx: Transaction): boolean =>
  tx.preamble.length === 0 && tx.deletes.length === 0 && tx.adds.length === 0 && tx.chainsRemoved.length === 0 && tx.chainsWritten.size === 0;

const samePrefixes = (a: readonly Prefix[], b: readonly Prefix[]): boolean => a.length === b.length && a.every((x, i) => x.text === b[i]!.text);

/** Element changes collected per set, written out in a fixed order. */
class ElementOps {
  private readonly bySet = new Map<SetName, SetElement[]>();
  push(set: SetName, element: SetElement): void {
    const list = this.bySet.get(set);
    if (list === undefined) this.bySet.set(set, [element]);
    else list.push(element);
  }
  write(verb: 'add' | 'delete', order: readonly SetName[], out: ElementOp[]): void {
    for (const set of order) {
      const elements = this.bySet.get(set);
      if (elements === undefined) continue;
      for (let i = 0; i < elements.length; i += ELEMENT_BATCH) out.push({ verb, set, elements: elements.slice(i, i + ELEMENT_BATCH) });
    }
  }
}

// Deletes: verdict elements first, so nothing reaches a frontend while its slots go. Adds:
// slots, counters and policy first, verdict elements last, so a frontend becomes reachable
// only whole (this matters to a load split over several transactions).
const DELETE_ORDER: readonly SetName[] = ['frontends4', 'frontends6', 'backends4tcp', 'backends4udp', 'backends6tcp', 'backends6udp', 'counters4', 'counters6', 'masq4', 'masq6', 'closed4', 'closed6', 'restricted4', 'restricted6', 'allow4', 'allow6'];
const ADD_ORDER: readonly SetName[] = ['backends4tcp', 'backends4udp', 'backends6tcp', 'backends6udp', 'counters4', 'counters6', 'masq4', 'masq6', 'closed4', 'closed6', 'restricted4', 'restricted6', 'allow4', 'allow6', 'deny4', 'deny6', 'frontends4', 'frontends6'];

/** The element changes that turn one frontend's kernel content into another's. */
function diffFrontend(old: RenderedFrontend | undefined, next: RenderedFrontend | undefined, dels: ElementOps, adds: ElementOps): void {
  const some = (next ?? old)!;
  const s = setsOf(some.family);
  const backends = backendsOf(some.family, some.protocol);
  const vip = some.vip;
  if (old?.verdict !== next?.verdict) {
    // A map element whose value changes is deleted and added again in the same transaction.
    if (old?.verdict !== undefined) dels.push(s.frontends, { kind: 'frontend', vip });
    // Rendered verdicts are always a goto to a pick chain.
    const goto = pickOf(next);
    if (goto !== undefined) adds.push(s.frontends, { kind: 'frontend', vip, goto });
  }
  const was = old?.slots ?? [];
  const now = next?.slots ?? [];
  for (let i = 0; i < Math.max(was.length, now.length); i++) {
    const a = was[i];
    const b = now[i];
    if (a === b || (a !== undefined && b !== undefined && a.text === b.text)) continue;
    if (a !== undefined) dels.push(backends, { kind: 'slot', vip, slot: i });
    if (b !== undefined) adds.push(backends, { kind: 'slot', vip, slot: i, backend: b });
  }
  const flag = (set: SetName, a: boolean | undefined, b: boolean | undefined): void => {
    if (a === true && b !== true) dels.push(set, { kind: 'vip', vip });
    if (b === true && a !== true) adds.push(set, { kind: 'vip', vip });
  };
  flag(s.counters, old?.counter, next?.counter);
  flag(s.masq, old?.masquerade, next?.masquerade);
  flag(s.closed, old?.closed, next?.closed);
  flag(s.restricted, old?.restricted, next?.restricted);
  const allowWas = old?.allow ?? [];
  const allowNow = next?.allow ?? [];
  if (!samePrefixes(allowWas, allowNow)) {
    const keep = new Set(allowNow.map((p) => p.text));
    const had = new Set(allowWas.map((p) => p.text));
    for (const p of allowWas) if (!keep.has(p.text)) dels.push(s.allow, { kind: 'source', vip, source: p });
    for (const p of allowNow) if (!had.has(p.text)) adds.push(s.allow, { kind: 'source', vip, source: p });
  }
}

/** The pick chain a frontend's verdict goes to. */
const pickOf = (r: RenderedFrontend | undefined): string | undefined =>
  r?.verdict?.startsWith('goto ') === true ? r.verdict.slice('goto '.length) : undefined;

/** True when the installed entry already has the desired entry's content in the kernel. */
function unchanged(old: FrontendEntry | undefined, next: FrontendEntry): boolean {
  return old !== undefined && (old === next || old.rendered === next.rendered || contentSignature(old.rendered) === contentSignature(next.rendered));
}

/**
 * The transaction from `installed` to `after`, looking only at the frontends named in `keys`
 * (the others are the same in both). `after.chains` are the pick chains the frontends of
 * `after` use.
 */
function transaction(installed: InstalledState, after: InstalledState, keys: Iterable<string>): Transaction {
  const dels = new ElementOps();
  const adds = new ElementOps();
  const written: string[] = [];
  const removed: string[] = [];
  for (const key of keys) {
    const old = installed.frontends.get(key);
    const entry = after.frontends.get(key);
    if (entry === undefined) {
      if (old === undefined) continue;
      diffFrontend(old.rendered, undefined, dels, adds);
      removed.push(key);
    } else if (!unchanged(old, entry)) {
      diffFrontend(old?.rendered, entry.rendered, dels, adds);
      written.push(key);
    }
  }
  const deletes: ElementOp[] = [];
  for (const family of [4, 6] as const) {
    if (!samePrefixes(installed.deny[family], after.deny[family])) {
      // A changed deny list is rewritten whole: it is short, and flush + refill in one
      // transaction never leaves a moment without it.
      const set = setsOf(family).deny;
      deletes.push({ verb: 'flush', set });
      for (const prefix of after.deny[family]) adds.push(set, { kind: 'prefix', prefix });
    }
  }
  dels.write('delete', DELETE_ORDER, deletes);
  const chainsRemoved = [...installed.chains.keys()].filter((name) => !after.chains.has(name));
  const chainsWritten = new Map([...after.chains].filter(([name, rule]) => installed.chains.get(name) !== rule));
  const added: ElementOp[] = [];
  adds.write('add', ADD_ORDER, added);
  return makeTransaction({ preamble: [], deletes, chainsRemoved, chainsWritten, adds: added, written, removed, after });
}

/** Pick chain → number of frontends whose verdict goes to it. */
export function chainUse(frontends: Iterable<FrontendEntry>): Map<string, number> {
  const use = new Map<string, number>();
  for (const { rendered } of frontends) {
    const pick = pickOf(rendered);
    if (pick !== undefined) use.set(pick, (use.get(pick) ?? 0) + 1);
  }
  return use;
}

const chainsOf = (use: ReadonlyMap<string, number>): Map<string, string> =>
  new Map([...use].filter(([, n]) => n > 0).map(([name]) => [name, pickRule(name)!]));

/**
 * The one transaction that turns the installed state into the desired one, mentioning only
 * what differs: a frontend is skipped on identity (its rendering was reused because its input
 * did not change) or on equal content, so one backend change at 10k services is a handful of
 * element commands. Elements that point at a chain are deleted before it and added after it.
 */
export function diffTables(installed: InstalledState, desired: RenderedTable): Transaction {
  const keys = [...desired.frontends.keys()];
  for (const key of installed.frontends.keys()) if (!desired.frontends.has(key)) keys.push(key);
  const pickUse = chainUse(desired.frontends.values());
  const after = { frontends: desired.frontends, deny: desired.deny, chains: chainsOf(pickUse), pickUse };
  return transaction(installed, after, keys);
}

/**
 * The change from `installed` to `desired` as transactions of at most `maxFrontends` changed
 * frontends each, made one at a time (a generator, so only one step's text exists at once):
 * libnftables holds a whole parsed transaction in memory (~10 KB per element of ours,
 * measured), so one transaction of 100k elements costs hundreds of MB. Every step is atomic
 * and carries whole frontends (slots and policy before the verdict element), so no frontend
 * is ever half-present; the deny list changes in the first step. `first` is put before the
 * first step's commands (the table's replace preamble). Each step looks only at its own
 * frontends; pick chains are counted, not recomputed from all frontends.
 */
export function* diffSteps(installed: InstalledState, desired: RenderedTable, maxFrontends: number, first: readonly string[] = []): Generator<Transaction> {
  const changed: string[] = [];
  for (const [key, entry] of desired.frontends) if (!unchanged(installed.frontends.get(key), entry)) changed.push(key);
  for (const key of installed.frontends.keys()) if (!desired.frontends.has(key)) changed.push(key);
  const withFirst = (tx: Transaction, i: number): Transaction => (i === 0 && first.length > 0 ? withPreamble(tx, first) : tx);
  // Only the changed frontends are looked at, and the pick chains' use is carried over and
  // adjusted: one backend change at 10k services costs the walk above, not three more.
  const use = new Map(installed.pickUse);
  let current = installed;
  // No frontend changed: one step still carries a deny-list change or a drifted pick chain.
  const steps = Math.max(1, Math.ceil(changed.length / maxFrontends));
  for (let step = 0; step < steps; step++) {
    const chunk = changed.slice(step * maxFrontends, (step + 1) * maxFrontends);
    const last = step === steps - 1;
    for (const key of chunk) {
      const was = pickOf(current.frontends.get(key)?.rendered);
      const now = pickOf(desired.frontends.get(key)?.rendered);
      if (was !== undefined) use.set(was, use.get(was)! - 1);
      if (now !== undefined) use.set(now, (use.get(now) ?? 0) + 1);
    }
    let frontends: ReadonlyMap<string, FrontendEntry> = desired.frontends;
    if (!last) {
      // A copy: the state after this step must stay as it is while the next one is planned.
      const next = new Map(current.frontends);
      for (const key of chunk) {
        const entry = desired.frontends.get(key);
        if (entry === undefined) next.delete(key);
        else next.set(key, entry);
      }
      frontends = next;
    }
    for (const [name, n] of use) if (n <= 0) use.delete(name);
    const tx = transaction(current, { frontends, deny: desired.deny, chains: chainsOf(use), pickUse: new Map(use) }, chunk);
    yield withFirst(tx, step);
    current = tx.after;
  }
}

/** The commands that replace whatever table is there by an empty one of this layout. */
export function replacePreamble(options: RenderOptions): string[] {
  // The leading `add table` makes the delete safe when no table exists; in one transaction
  // with what follows, traffic never sees the table missing.
  return [`add table ${TABLE}`, `delete table ${TABLE}`, skeletonText(options).trimEnd()];
}

/** One transaction that replaces whatever table is there by the desired one. */
export function renderReplace(desired: RenderedTable, options: RenderOptions): Transaction {
  return withPreamble(diffTables(EMPTY_INSTALLED, desired), replacePreamble(options));
}

/** The same step with commands put before it. */
function withPreamble(tx: Transaction, preamble: readonly string[]): Transaction {
  const { preamble: own, deletes, chainsRemoved, chainsWritten, adds, written, removed, after } = tx;
  return makeTransaction({ preamble: [...preamble, ...own], deletes, chainsRemoved, chainsWritten, adds, written, removed, after });
}

/** The text nft is given for a transaction. */
export const transactionText = (tx: Pick<Transaction, 'lines'>): string => (tx.lines.length === 0 ? '' : `${tx.lines.join('\n')}\n`);
