import type { ApplyOptions, ApplyReport, Dataplane, FrontendCounters, FrontendReadBack } from '../dataplane.ts';
import type { Frontend, ServiceTable } from '../../model/index.ts';
import {
  EMPTY_INSTALLED,
  chainLines,
  diffSteps,
  isEmptyTransaction,
  renderReplace,
  replacePreamble,
  transactionText,
  type InstalledState,
  type Transaction,
} from './diff.ts';
import { NftError, NftErrorCode } from './errors.ts';
import type { NftKernel } from './kernel.ts';
import { normalizeElement, parseListing, tableBlock, type Listing, type ListedSet } from './listing.ts';
import type { NftLogger } from './nft.ts';
import { compareInstalled, installedFromListing, skeletonDrift } from './readback.ts';
import { DEFAULT_MASQUERADE_MARK, SetNames, TABLE, renderTable, setsOf, type RenderOptions, type RenderedTable, type SetName } from './render.ts';

export { cliRunner, ffiRunner, type NftLogger, type NftRunner } from './nft.ts';
export { describeKernel, nftKernel, openNftKernel, type ElementChannel, type NftKernel, type NftKernelChoice, type NftKernelParts, type OpenNftKernelOptions } from './kernel.ts';
export { NftError, NftErrorCode } from './errors.ts';

export interface NftablesDataplaneOptions {
  /** The ways to the kernel, chosen once (`openNftKernel`); the dataplane closes them. */
  readonly kernel: NftKernel;
  readonly log?: NftLogger;
  /** Packet-mark bit that asks postrouting to masquerade (default 0x00100000). */
  readonly masqueradeMark?: number;
  /** Milliseconds, for durations; injectable for tests. */
  readonly now?: () => number;
  /**
   * Most frontends one transaction adds, changes or removes (default 250). A bigger change
   * (a cold start, a resync after a long outage) is made in several atomic steps, each with
   * whole frontends, which bounds libnftables' memory (~10 KB per element in a transaction).
   */
  readonly maxFrontendsPerTransaction?: number;
}

/**
 * Frontends per transaction by default. Measured for a cold 10k × 10 load: 250 → 1.25 s and
 * 208 MB peak RSS; 1000 → 1.5 s, 295 MB; one transaction → 1.8 s, 500 MB (libnftables keeps
 * ~10 KB per parsed element, and smaller transactions were also faster); 100 saves ~18 MB
 * more but takes longer.
 */
const DEFAULT_STEP = 250;

/** The kernel's table as read back: absent, of another layout (or skeleton), or usable. */
type KernelView = { readonly kind: 'missing' } | { readonly kind: 'incompatible'; readonly what: readonly string[] } | { readonly kind: 'usable'; readonly state: InstalledState };

/**
 * The nftables engine: the `inet vipgate` table with a constant set of rules, every service
 * being elements of shared maps and sets (docs/design/004-nftables-layout.md). An apply is one
 * atomic transaction holding only the elements that changed; a change of more than
 * `maxFrontendsPerTransaction` frontends is several, each with whole frontends.
 */
export function nftablesDataplane(options: NftablesDataplaneOptions): Dataplane {
  const { kernel, log } = options;
  const { transactions: runner, elements: channel, skeletonLister: terse, lister, generation } = kernel;
  const now = options.now ?? (() => performance.now());
  const mark = options.masqueradeMark ?? DEFAULT_MASQUERADE_MARK;
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff || (mark & (mark - 1)) !== 0) {
    throw new RangeError(`masqueradeMark must be a single bit of a 32-bit mark, not ${mark}`);
  }
  const renderOptions: RenderOptions = { masqueradeMark: mark };
  const stepSize = options.maxFrontendsPerTransaction ?? DEFAULT_STEP;
  if (!Number.isInteger(stepSize) || stepSize < 1) throw new RangeError(`maxFrontendsPerTransaction must be a positive integer, not ${stepSize}`);
  /** What the kernel holds as far as this process knows; undefined until the first apply. */
  let installed: InstalledState | undefined;
  /**
   * The ruleset generation at which `installed` was known to be exact (after our own read, or
   * after our own write moved it by exactly one); undefined when unknown.
   */
  let trusted: number | undefined;

  /**
   * Runs the commits of one step in order, keeping `trusted` only if nobody else committed
   * around them (the generation moved by exactly their number).
   */
  async function write(commits: readonly (() => unknown)[]): Promise<void> {
    const before = generation();
    const known = trusted;
    trusted = undefined;
    for (const commit of commits) await commit();
    const after = generation();
    if (known !== undefined && before === known && after === ((before + commits.length) >>> 0)) trusted = after;
  }

  /**
   * One step to the kernel. With an element channel: chains first (a new pick chain exists
   * before any element points at it), then every element change as one atomic netlink batch,
   * then the chains nothing points at any more — each commit leaves a table that serves every
   * frontend whole. Without one: the whole step as one nft transaction.
   */
  async function commitStep(tx: Transaction): Promise<void> {
    const ch = channel;
    if (ch === undefined) {
      await write([() => runner.run(transactionText(tx))]);
      return;
    }
    const commits: (() => unknown)[] = [];
    const before = [...tx.preamble, ...chainLines(tx.chainsWritten)];
    if (before.length > 0) commits.push(() => runner.run(transactionText({ lines: before })));
    const ops = [...tx.deletes, ...tx.adds];
    if (ops.length > 0) commits.push(() => ch.commit(ops));
    if (tx.chainsRemoved.length > 0) {
      const lines = tx.chainsRemoved.map((name) => `delete chain ${TABLE} ${name}`);
      commits.push(() => runner.run(transactionText({ lines })));
    }
    await write(commits);
  }

  /** Replaces the table whole, in one transaction, so traffic never sees it missing. */
  async function replaceAll(desired: RenderedTable): Promise<void> {
    // One nft transaction even with an element channel: the old table serves until it commits.
    const tx = renderReplace(desired, renderOptions);
    await write([() => runner.run(transactionText(tx))]);
    installed = tx.after;
  }

  /** Applies the difference in steps; `installed` follows each committed step. */
  async function applySteps(from: InstalledState, desired: RenderedTable, first: readonly string[] = []): Promise<{ written: number; removed: number; changed: boolean }> {
    let written = 0;
    let removed = 0;
    let changed = false;
    for (const tx of diffSteps(from, desired, stepSize, first)) {
      if (!isEmptyTransaction(tx)) {
        await commitStep(tx);
        changed = true;
      }
      installed = tx.after;
      written += tx.written.length;
      removed += tx.removed.length;
    }
    return { written, removed, changed };
  }

  /** What the kernel holds, as a listing: the skeleton terse and the elements over the channel, or one full `list table`. */
  async function listKernel(): Promise<Listing | undefined> {
    const ch = channel;
    if (ch === undefined || terse === undefined) {
      try {
        return parseListing(await lister.run(`list table ${TABLE}`));
      } catch (error) {
        if (error instanceof NftError && error.code === NftErrorCode.commandFailed && /No such file/.test(error.nftMessage ?? '')) return undefined;
        throw error;
      }
    }
    const block = tableBlock(await terse.run('list ruleset inet'), TABLE);
    if (block === undefined) return undefined;
    const listing = parseListing(block);
    // Elements only of a table this layout can read: another layout's is replaced whole anyway.
    if (skeletonDrift(listing, renderOptions).length > 0) return listing;
    const sets = new Map<string, ListedSet>();
    for (const [name, listed] of listing.sets) {
      const { elements, counts } = (Object.values(SetNames) as string[]).includes(name) ? ch.listElements(name as SetName) : { elements: [], counts: new Map() };
      sets.set(name, { declaration: listed.declaration, elements, counts });
    }
    return { comment: listing.comment, chains: listing.chains, sets, normalized: true };
  }

  async function readKernel(): Promise<KernelView> {
    const before = generation();
    trusted = undefined;
    const listing = await listKernel();
    // Trusted only if nothing was committed while the table was read.
    if (before !== undefined && generation() === before) trusted = before;
    if (listing === undefined) return { kind: 'missing' };
    const what = skeletonDrift(listing, renderOptions);
    return what.length > 0 ? { kind: 'incompatible', what } : { kind: 'usable', state: installedFromListing(listing) };
  }

  return {
    engine: 'nftables',

    async apply(table: ServiceTable, applyOptions: ApplyOptions = {}): Promise<ApplyReport> {
      const started = now();
      const report = (fields: Omit<ApplyReport, 'durationMs'>): ApplyReport => ({ ...fields, durationMs: now() - started });
      const known = installed;
      let base: InstalledState | undefined = known;
      let driftRepaired = false;

      // The first apply of this process reads the kernel back: a table an earlier agent left
      // is reconciled element by element (its counters and open flows untouched), not replaced.
      // A resync at an unchanged generation has nothing to find: skip the read.
      const unchanged = known !== undefined && trusted !== undefined && generation() === trusted;
      if (known === undefined || (applyOptions.resync === true && !unchanged)) {
        const kernel = await readKernel();
        if (kernel.kind !== 'usable') {
          const desired = renderTable(table, known?.frontends);
          for (const problem of desired.problems) log?.warn({ frontend: problem.key }, problem.message);
          if (kernel.kind === 'incompatible') {
            // Another layout's table still serves traffic: swap it in one transaction.
            log?.warn({ drift: kernel.what }, 'nftables table of another layout or changed skeleton; replacing it whole');
            await replaceAll(desired);
          } else {
            // Nothing is served yet, so a load in steps interrupts nobody.
            if (known !== undefined) log?.warn({ drift: ['table missing'] }, 'nftables table missing; writing it whole');
            await applySteps(EMPTY_INSTALLED, desired, replacePreamble(renderOptions));
          }
          const removed = known === undefined ? 0 : [...known.frontends.keys()].filter((k) => !desired.frontends.has(k)).length;
          return report({ changed: true, frontendsWritten: desired.frontends.size, frontendsRemoved: removed, driftRepaired: known !== undefined });
        }
        if (known === undefined) base = kernel.state;
        else {
          const { what, merged } = compareInstalled(known, kernel.state);
          if (what.length > 0) {
            log?.warn({ drift: what.slice(0, 20), count: what.length }, 'nftables table drifted; repairing');
            driftRepaired = true;
          }
          base = merged;
        }
      }
      const from = base!;

      const desired = renderTable(table, from.frontends);
      for (const problem of desired.problems) log?.warn({ frontend: problem.key }, problem.message);
      try {
        const done = await applySteps(from, desired);
        return report({ changed: done.changed, frontendsWritten: done.written, frontendsRemoved: done.removed, driftRepaired });
      } catch (error) {
        if (!(error instanceof NftError) || error.code !== NftErrorCode.commandFailed) throw error;
        // The kernel is not what this process thinks (changed behind its back between checks):
        // read it back and go from what is there; only if that fails too, replace the table
        // whole (always possible, and as atomic).
        log?.warn({ err: error.message }, 'incremental nftables update refused; reading the table back');
        const before = installed;
        const removed = before === undefined ? 0 : [...before.frontends.keys()].filter((k) => !desired.frontends.has(k)).length;
        try {
          const kernel = await readKernel();
          if (kernel.kind === 'usable') {
            await applySteps(kernel.state, renderTable(table, kernel.state.frontends));
            return report({ changed: true, frontendsWritten: desired.frontends.size, frontendsRemoved: removed, driftRepaired: true });
          }
        } catch (again) {
          if (!(again instanceof NftError)) throw again;
          log?.warn({ err: again.message }, 'nftables update from the read-back table refused too; replacing the table whole');
        }
        await replaceAll(desired);
        return report({ changed: true, frontendsWritten: desired.frontends.size, frontendsRemoved: removed, driftRepaired: true });
      }
    },

    async counters(): Promise<ReadonlyMap<string, FrontendCounters>> {
      const result = new Map<string, FrontendCounters>();
      if (installed === undefined) return result;
      const counts = new Map<string, FrontendCounters>();
      const ch = channel;
      for (const name of [SetNames.counters4, SetNames.counters6]) {
        // One list per call: given two `list set` commands in one buffer, libnftables 1.0.6
        // fetches only the last set and fails the first ("No such file or directory").
        const listed = ch !== undefined ? ch.listElements(name).counts : parseListing(await runner.run(`list set ${TABLE} ${name}`)).sets.get(name)?.counts;
        for (const [element, c] of listed ?? []) counts.set(ch !== undefined ? element : normalizeElement(element), c);
      }
      for (const { rendered } of installed.frontends.values()) {
        const c = counts.get(rendered.mapKey);
        if (c !== undefined) result.set(rendered.key, c);
      }
      return result;
    },

    async readBack(frontends: readonly Frontend[]): Promise<ReadonlyMap<string, FrontendReadBack>> {
      const listing = await listKernel();
      const drift = listing === undefined ? [] : skeletonDrift(listing, renderOptions);
      const state = listing === undefined || drift.length > 0 ? undefined : installedFromListing(listing);
      const out = new Map<string, FrontendReadBack>();
      for (const f of frontends) {
        const where = `${f.address} . ${f.protocol} . ${f.port} in ${TABLE} ${setsOf(f.family).frontends}`;
        if (state === undefined) {
          const why = listing === undefined ? `table ${TABLE} missing` : `table ${TABLE} of another layout (${drift.join(', ')})`;
          out.set(f.key, { present: false, takesNewFlows: false, backends: 0, where: why });
          continue;
        }
        const r = state.frontends.get(f.key)?.rendered;
        const slots = new Set((r?.slots ?? []).flatMap((s) => (s === undefined ? [] : [s.text])));
        out.set(f.key, { present: r !== undefined && (r.verdict !== undefined || r.closed), takesNewFlows: r?.verdict !== undefined, backends: slots.size, where: `element ${where}` });
      }
      return out;
    },

    async cleanup(): Promise<void> {
      // `add` first so that deleting never fails on a machine without the table.
      await runner.run(`add table ${TABLE}\ndelete table ${TABLE}\n`);
      installed = undefined;
      trusted = undefined;
    },

    async close() {
      await kernel.close();
    },
  };
}
