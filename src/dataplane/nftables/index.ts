import type { ApplyOptions, ApplyReport, Dataplane, FrontendCounters } from '../dataplane.ts';
import type { ServiceTable } from '../../model/index.ts';
import { diffTables, installedFrom, type InstalledState, type Transaction } from './diff.ts';
import { findDrift } from './drift.ts';
import { NftError, NftErrorCode } from './errors.ts';
import { parseListing } from './listing.ts';
import type { NftLogger, NftRunner } from './nft.ts';
import {
  DEFAULT_MASQUERADE_MARK,
  TABLE,
  counterName,
  renderReplace,
  renderTable,
  type RenderOptions,
  type RenderedTable,
} from './render.ts';

export { cliRunner, defaultRunner, ffiRunner, type NftLogger, type NftRunner } from './nft.ts';
export { NftError, NftErrorCode } from './errors.ts';

export interface NftablesDataplaneOptions {
  readonly runner: NftRunner;
  readonly log?: NftLogger;
  /** Packet-mark bit that asks postrouting to masquerade (default 0x00100000). */
  readonly masqueradeMark?: number;
  /** Milliseconds, for durations; injectable for tests. */
  readonly now?: () => number;
}

/**
 * The nftables engine: the `inet vipgate` table, one verdict-map lookup per packet, one chain
 * pair per frontend, and one atomic transaction per apply holding only what changed.
 */
export function nftablesDataplane(options: NftablesDataplaneOptions): Dataplane {
  const { runner, log } = options;
  const now = options.now ?? (() => performance.now());
  const mark = options.masqueradeMark ?? DEFAULT_MASQUERADE_MARK;
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff || (mark & (mark - 1)) !== 0) {
    throw new RangeError(`masqueradeMark must be a single bit of a 32-bit mark, not ${mark}`);
  }
  const renderOptions: RenderOptions = { masqueradeMark: mark };
  /** What the kernel holds as far as this process knows; undefined until the first apply. */
  let installed: InstalledState | undefined;

  async function replaceAll(desired: RenderedTable): Promise<void> {
    await runner.run(renderReplace(desired, renderOptions));
    installed = installedFrom(desired);
  }

  async function applyIncremental(tx: Transaction, desired: RenderedTable): Promise<void> {
    await runner.run(tx.text);
    installed = installedFrom(desired);
  }

  async function readDrift(): Promise<ReturnType<typeof findDrift> | 'missing'> {
    let text: string;
    try {
      text = await runner.run(`list table ${TABLE}`);
    } catch (error) {
      if (error instanceof NftError && error.code === NftErrorCode.commandFailed && /No such file/.test(error.nftMessage ?? '')) {
        return 'missing';
      }
      throw error;
    }
    return findDrift(parseListing(text), installed!, renderOptions);
  }

  return {
    engine: 'nftables',

    async apply(table: ServiceTable, applyOptions: ApplyOptions = {}): Promise<ApplyReport> {
      const started = now();
      const desired = renderTable(table, renderOptions);
      for (const problem of desired.problems) log?.warn({ frontend: problem.key }, problem.message);
      const report = (fields: Omit<ApplyReport, 'durationMs'>): ApplyReport => ({ ...fields, durationMs: now() - started });

      // First apply of this process: whatever an earlier agent left is replaced in one
      // transaction (conntrack keeps open flows; the rules are back in the same instant).
      if (installed === undefined) {
        await replaceAll(desired);
        return report({ changed: true, frontendsWritten: desired.frontends.size, frontendsRemoved: 0, driftRepaired: false });
      }

      let base: InstalledState = installed;
      let driftRepaired = false;
      if (applyOptions.resync === true) {
        const drift = await readDrift();
        if (drift === 'missing' || drift.fullReplace) {
          log?.warn({ drift: drift === 'missing' ? ['table missing'] : drift.what }, 'nftables table drifted; replacing it whole');
          const before = installed.frontends;
          await replaceAll(desired);
          const removed = [...before.keys()].filter((id) => !desired.frontends.has(id)).length;
          return report({ changed: true, frontendsWritten: desired.frontends.size, frontendsRemoved: removed, driftRepaired: true });
        }
        if (drift.what.length > 0) {
          log?.warn({ drift: drift.what.slice(0, 20), count: drift.what.length }, 'nftables table drifted; repairing');
          driftRepaired = true;
          base = {
            ...installed,
            staleFrontends: drift.staleFrontends,
            staleSets: drift.staleSets,
            strayChains: drift.strayChains,
            strayCounters: drift.strayCounters,
          };
        }
      }

      const tx = diffTables(base, desired);
      if (tx.text === '') {
        installed = installedFrom(desired);
        return report({ changed: false, frontendsWritten: 0, frontendsRemoved: 0, driftRepaired });
      }
      try {
        await applyIncremental(tx, desired);
      } catch (error) {
        if (!(error instanceof NftError) || error.code !== NftErrorCode.commandFailed) throw error;
        // The kernel is not what this process thinks (changed behind its back between checks):
        // replacing the whole table is always possible and as atomic.
        log?.warn({ err: error.message }, 'incremental nftables update refused; replacing the table whole');
        await replaceAll(desired);
        driftRepaired = true;
      }
      return report({ changed: true, frontendsWritten: tx.written.length, frontendsRemoved: tx.removed.length, driftRepaired });
    },

    async counters(): Promise<ReadonlyMap<string, FrontendCounters>> {
      const result = new Map<string, FrontendCounters>();
      if (installed === undefined) return result;
      const listed = parseListing(await runner.run(`list counters table ${TABLE}`)).counters;
      for (const f of installed.frontends.values()) {
        const c = listed.get(counterName(f.id));
        if (c !== undefined) result.set(f.key, c);
      }
      return result;
    },

    async cleanup(): Promise<void> {
      // `add` first so that deleting never fails on a machine without the table.
      await runner.run(`add table ${TABLE}\ndelete table ${TABLE}\n`);
      installed = undefined;
    },

    close: () => runner.close(),
  };
}
