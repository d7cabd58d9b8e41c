// The nftables engine's ways to the kernel, chosen once when the engine is made: nft text
// transactions (libnftables in this process, else the `nft` CLI), set elements and counters
// (nfnetlink, else nft text through the same transactions), the ruleset generation (nfnetlink,
// else none) and the full listing of a read-back. The dataplane (index.ts) only uses what it is
// given; it never probes, branches on a runner's kind or falls back from one to another.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ElementOp } from './diff.ts';
import { netlinkGeneration } from './generation.ts';
import type { ElementCounts } from './listing.ts';
import { nftNetlink } from './netlink/index.ts';
import { cliRunner, ffiRunner, type NftLogger, type NftRunner } from './nft.ts';
import type { SetName } from './render.ts';

/**
 * Writes and reads the table's set elements without libnftables (over nfnetlink, `netlink/`).
 * Elements are nearly all of the table; libnftables holds ~10 KB per parsed element, so a cold
 * 10k-service load through it costs ~100 MB of the process's memory, and a listing of them more.
 */
export interface ElementChannel {
  /** One atomic batch, in order; throws NftError(NFT_COMMAND_FAILED) naming the refused op. */
  commit(ops: readonly ElementOp[]): void;
  /** A set's elements as nft lists them (normalized), with per-element counters where declared. */
  listElements(set: SetName): { elements: string[]; counts: Map<string, ElementCounts> };
  close(): void;
}

/** Which way each kernel interface goes, as chosen when the kernel was opened. */
export interface NftKernelChoice {
  /** Table, chains and rules (and elements without a channel): `libnftables`, `cli`, or a test's own. */
  readonly transactions: string;
  readonly elements: 'nfnetlink' | 'nft text';
  readonly generation: 'nfnetlink' | 'none';
}

/** The ways to the kernel one nftables dataplane uses; it owns them and closes them. */
export interface NftKernel {
  readonly chosen: NftKernelChoice;
  /** nft text transactions: the skeleton, pick chains, and the elements when `elements` is undefined. */
  readonly transactions: NftRunner;
  /** Element changes and counter reads; undefined: they go as nft text through `transactions`. */
  readonly elements: ElementChannel | undefined;
  /**
   * With `elements`: lists the table's skeleton without elements (`list ruleset inet`, terse);
   * the elements then come from the channel. Undefined: a read-back is one full `list table`.
   */
  readonly skeletonLister: NftRunner | undefined;
  /** Runs the full `list table` of a read-back without a skeleton lister. */
  readonly lister: NftRunner;
  /** The ruleset generation of the namespace the kernel acts in; undefined when it can't tell. */
  readonly generation: () => number | undefined;
  close(): Promise<void>;
}

/** The parts of a kernel, given explicitly (tests, benchmarks). */
export interface NftKernelParts {
  readonly transactions: NftRunner;
  readonly elements?: ElementChannel | undefined;
  readonly skeletonLister?: NftRunner | undefined;
  /** Default: `transactions`. */
  readonly lister?: NftRunner | undefined;
  /** Default: none (`() => undefined`), so every resync reads the table back. */
  readonly generation?: (() => number | undefined) | undefined;
}

/** A kernel of the given parts; nothing is probed. */
export function nftKernel(parts: NftKernelParts): NftKernel {
  const { transactions, elements, skeletonLister } = parts;
  const lister = parts.lister ?? transactions;
  const generation = parts.generation ?? (() => undefined);
  return {
    chosen: {
      transactions: transactions.kind,
      elements: elements === undefined ? 'nft text' : 'nfnetlink',
      generation: parts.generation === undefined ? 'none' : 'nfnetlink',
    },
    transactions,
    elements,
    skeletonLister,
    lister,
    generation,
    async close() {
      elements?.close();
      for (const runner of new Set([skeletonLister, lister, transactions])) await runner?.close();
    },
  };
}

export interface OpenNftKernelOptions {
  readonly log?: NftLogger;
  /**
   * Act in this network namespace through `ip netns exec <ns> nft -f -` (tests): everything as
   * nft text through the CLI, no generation. Without it, everything acts in this process's
   * namespace.
   */
  readonly netns?: string;
  /** libnftables' file name (default libnftables.so.1). */
  readonly library?: string;
  /** Default `nft`. */
  readonly nftPath?: string;
}

/** True when `command` is a path, or a name on PATH, that this process may execute. */
function executable(command: string): boolean {
  const candidates = command.includes('/') ? [command] : (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(d, command));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Opens the ways to the kernel, each probed once: libnftables through koffi if it loads, else
 * the `nft` CLI; nfnetlink for elements and counters if the socket opens, else nft text; the
 * generation over nfnetlink if the kernel answers, else none. A full listing goes to the `nft`
 * CLI in a child process when transactions are in-process and `nft` is installed: a listing
 * of 130k elements costs libnftables ~200 MB, which a child gives back when it exits. What was
 * chosen is logged once and kept in `chosen`.
 */
export function openNftKernel(options: OpenNftKernelOptions = {}): NftKernel {
  const { log } = options;
  const cli = (): NftRunner => cliRunner({ ...(options.netns === undefined ? {} : { netns: options.netns }), ...(options.nftPath === undefined ? {} : { nftPath: options.nftPath }) });
  if (options.netns !== undefined) return nftKernel({ transactions: cli() });

  const library = options.library === undefined ? {} : { library: options.library };
  let transactions: NftRunner;
  try {
    transactions = ffiRunner(library);
  } catch (error) {
    log?.warn({ err: message(error) }, 'libnftables unavailable; spawning `nft -f -` per transaction (~100x slower)');
    transactions = cli();
  }
  let elements: ElementChannel | undefined;
  try {
    elements = nftNetlink();
  } catch (error) {
    log?.warn({ err: message(error) }, 'nftables elements over netlink unavailable; writing them as nft text');
  }
  // A terse libnftables context of its own lists the skeleton without elements (the CLI
  // path keeps the full listing, as before).
  const skeletonLister = elements !== undefined && transactions.kind === 'libnftables' ? ffiRunner({ ...library, terse: true }) : undefined;
  const probe = netlinkGeneration();
  const generation = probe() === undefined ? undefined : probe;
  const lister = transactions.kind === 'libnftables' && executable(options.nftPath ?? 'nft') ? cli() : transactions;
  const kernel = nftKernel({ transactions, elements, skeletonLister, lister, generation });
  log?.info({ ...kernel.chosen, listing: lister.kind }, 'nftables kernel interfaces chosen');
  return kernel;
}

/** One line for the `agent running` log line: `libnftables, elements as nfnetlink, generation over nfnetlink`. */
export const describeKernel = (chosen: NftKernelChoice): string =>
  `${chosen.transactions}, elements as ${chosen.elements}, generation ${chosen.generation === 'none' ? 'unknown' : 'over nfnetlink'}`;
