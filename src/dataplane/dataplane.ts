import type { ServiceTable } from '../model/index.ts';

/** Packet and byte counts of one frontend since its rules were installed. */
export interface FrontendCounters {
  readonly packets: bigint;
  readonly bytes: bigint;
}

/** What one apply did to the kernel, for logs, metrics and tests. */
export interface ApplyReport {
  /** False when the kernel already matched the table and nothing was sent. */
  readonly changed: boolean;
  /** Frontends whose rules were (re)written, added or removed in this pass. */
  readonly frontendsWritten: number;
  readonly frontendsRemoved: number;
  /** True when the kernel's state was read back and found to differ from what was last applied. */
  readonly driftRepaired: boolean;
  readonly durationMs: number;
}

export interface ApplyOptions {
  /**
   * Read the installed state back from the kernel instead of trusting what this process last
   * applied. The agent does this at start and periodically, so that a rule deleted by hand, or a
   * table left by an earlier agent, is reconciled.
   */
  readonly resync?: boolean;
}

/**
 * A dataplane engine (nftables, xdp, userspace). It takes the whole desired table, compares it
 * with what is installed, and makes the difference in one atomic step: traffic never sees half
 * a change. Rules stay in the kernel when the agent stops, so traffic survives a restart;
 * only `cleanup` removes them.
 */
export interface Dataplane {
  readonly engine: string;
  apply(table: ServiceTable, options?: ApplyOptions): Promise<ApplyReport>;
  /** Counters by frontend key. */
  counters(): Promise<ReadonlyMap<string, FrontendCounters>>;
  /** Removes everything this dataplane installed. */
  cleanup(): Promise<void>;
  /** Releases resources held by this process; leaves the kernel's rules in place. */
  close(): Promise<void>;
}
