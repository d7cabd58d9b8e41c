import type { ApplyOptions, ApplyReport, Dataplane, FrontendCounters } from '../dataplane.ts';
import type { ServiceTable } from '../../model/index.ts';
import { EMPTY_INSTALLED, diffSteps, renderReplace, replacePreamble, transactionText, type InstalledState } from './diff.ts';
import { NftError, NftErrorCode } from './errors.ts';
import { netlinkGeneration } from './generation.ts';
import { normalizeElement, parseListing } from './listing.ts';
import type { NftLogger, NftRunner } from './nft.ts';
import { compareInstalled, installedFromListing, skeletonDrift } from './readback.ts';
import { DEFAULT_MASQUERADE_MARK, SetNames, TABLE, renderTable, type RenderOptions, type RenderedTable } from './render.ts';

export { cliRunner, defaultRunner, ffiRunner, type NftLogger, type NftRunner } from './nft.ts';
export { NftError, NftErrorCode } from './errors.ts';

export interface NftablesDataplaneOptions {
  readonly runner: NftRunner;
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
  /**
   * Reads the nftables ruleset generation of the namespace the runner acts in (undefined: can't
   * tell). While it is where this dataplane's own last write or read left it, nothing changed
   * the ruleset, and a resync skips reading the table back (~3 s at 10k services). Default:
   * over netlink in this process's namespace, unless the runner is the CLI one (it may run nft
   * in another namespace); `() => undefined` turns it off.
   */
  readonly generation?: () => number | undefined;
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
  const { runner, log } = options;
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
  const generation = options.generation ?? (runner.kind === 'cli' ? () => undefined : netlinkGeneration());
  /**
   * The ruleset generation at which `installed` was known to be exact (after our own read, or
   * after our own write moved it by exactly one); undefined when unknown.
   */
  let trusted: number | undefined;

  /** Runs one transaction, keeping `trusted` only if nobody else committed around it. */
  async function write(text: string): Promise<void> {
    const before = generation();
    const known = trusted;
    trusted = undefined;
    await runner.run(text);
    const after = generation();
    if (known !== undefined && before === known && after === ((before + 1) >>> 0)) trusted = after;
  }

  /** Replaces the table whole, in one transaction, so traffic never sees it missing. */
  async function replaceAll(desired: RenderedTable): Promise<void> {
    const tx = renderReplace(desired, renderOptions);
    await write(transactionText(tx));
    installed = tx.after;
  }

  /** Applies the difference in steps; `installed` follows each committed step. */
  async function applySteps(from: InstalledState, desired: RenderedTable, first: readonly string[] = []): Promise<{ written: number; removed: number; changed: boolean }> {
    let written = 0;
    let removed = 0;
    let changed = false;
    for (const tx of diffSteps(from, desired, stepSize, first)) {
      if (tx.lines.length > 0) {
        await write(transactionText(tx));
        changed = true;
      }
      installed = tx.after;
      written += tx.written.length;
      removed += tx.removed.length;
    }
    return { written, removed, changed };
  }

  async function readKernel(): Promise<KernelView> {
    let text: string;
    const before = generation();
    trusted = undefined;
    try {
      text = await runner.run(`list table ${TABLE}`);
      // Trusted only if nothing was committed while the listing was taken.
      if (before !== undefined && generation() === before) trusted = before;
    } catch (error) {
      if (error instanceof NftError && error.code === NftErrorCode.commandFailed && /No such file/.test(error.nftMessage ?? '')) {
        if (before !== undefined && generation() === before) trusted = before;
        return { kind: 'missing' };
      }
      throw error;
    }
    const listing = parseListing(text);
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
        // replacing the whole table is always possible and as atomic.
        log?.warn({ err: error.message }, 'incremental nftables update refused; replacing the table whole');
        const before = installed;
        await replaceAll(desired);
        const removed = before === undefined ? 0 : [...before.frontends.keys()].filter((k) => !desired.frontends.has(k)).length;
        return report({ changed: true, frontendsWritten: desired.frontends.size, frontendsRemoved: removed, driftRepaired: true });
      }
    },

    async counters(): Promise<ReadonlyMap<string, FrontendCounters>> {
      const result = new Map<string, FrontendCounters>();
      if (installed === undefined) return result;
      const counts = new Map<string, FrontendCounters>();
      for (const name of [SetNames.counters4, SetNames.counters6]) {
        // One list per call: given two `list set` commands in one buffer, libnftables 1.0.6
        // fetches only the last set and fails the first ("No such file or directory").
        const listed = parseListing(await runner.run(`list set ${TABLE} ${name}`)).sets.get(name);
        for (const [element, c] of listed?.counts ?? []) counts.set(normalizeElement(element), c);
      }
      for (const { rendered } of installed.frontends.values()) {
        const c = counts.get(rendered.mapKey);
        if (c !== undefined) result.set(rendered.key, c);
      }
      return result;
    },

    async cleanup(): Promise<void> {
      // `add` first so that deleting never fails on a machine without the table.
      await runner.run(`add table ${TABLE}\ndelete table ${TABLE}\n`);
      installed = undefined;
      trusted = undefined;
    },

    close: () => runner.close(),
  };
}
