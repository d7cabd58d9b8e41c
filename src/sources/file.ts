import { createHash } from 'node:crypto';
import { watch as fsWatch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ConfigError, ConfigReader, readConfigText, type AgentConfig, type ParseOptions } from '../config/index.ts';

/** What one load of the file gave: a usable config, or every reason it is not usable. */
export type LoadResult =
  | { readonly ok: true; readonly config: AgentConfig }
  | { readonly ok: false; readonly error: ConfigError };

/** Timer functions, injectable so tests can fire the debounce and the poll by hand. */
export interface FileSourceTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface DirectoryWatcher {
  close(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** fs.watch's shape, injectable so tests can deliver events or simulate a watch that fails. */
export type WatchDirectory = (directory: string, listener: (event: string, filename: string | null) => void) => DirectoryWatcher;

export interface FileSourceOptions {
  readonly path: string;
  /** Called once per change of the file's content after start(), good or bad. Must not throw. */
  readonly onChange: (result: LoadResult) => void;
  /** Quiet time after the last event before the file is read: editors write in several steps. */
  readonly debounceMs?: number;
  /**
   * Also re-read the file this often (0: never). A safety net where directory watches miss
   * events (network file systems, a directory replaced by a ConfigMap-style symlink swap).
   */
  readonly pollIntervalMs?: number;
  /** Something the source could not do but worked around (a watch that failed; polling goes on). */
  readonly onWarning?: (message: string, cause?: unknown) => void;
  readonly parse?: ParseOptions;
  readonly timers?: FileSourceTimers;
  readonly watch?: WatchDirectory;
}

/**
 * Quiet time after the last event before the file is read. Saves by rename are one event;
 * truncate-then-write saves are a few events microseconds apart. 200 ms was a third of the
 * one-VIP-ready → route-in-the-router latency (bench/HISTORY.md §5); a save caught half-written is
 * refused with its error and the event of its second half reads it again.
 */
export const DEFAULT_DEBOUNCE_MS = 50;
export const DEFAULT_POLL_INTERVAL_MS = 10_000;

const realTimers: FileSourceTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (handle) => {
    clearInterval(handle as NodeJS.Timeout);
  },
};

const realWatch: WatchDirectory = (directory, listener) => fsWatch(directory, { persistent: false }, listener);

/**
 * The standalone config file as a source of desired state. It watches the file's directory,
 * not the file: editors and `kubectl cp`-style tools replace a file by writing a new one and
 * renaming it over the old, which ends a watch on the file itself. Events are debounced and
 * the content hashed, so a save that writes the same bytes, or several events for one save,
 * give at most one onChange.
 *
 * The source does not decide what to do with a bad file: it reports it, and `current()` keeps
 * returning the last good config, which the consumer keeps serving.
 */
export class FileSource {
  private readonly timers: FileSourceTimers;
  private readonly debounceMs: number;
  private readonly pollIntervalMs: number;
  private lastGood: AgentConfig | undefined;
  /** Hash of the last content read, good or bad, or the read error; equal means nothing to report. */
  private lastSeen: string | undefined;
  private watcher: DirectoryWatcher | undefined;
  private debounce: unknown;
  private poll: unknown;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Re-reads only the services whose text changed (src/config/incremental.ts). */
  private readonly reader: ConfigReader;

  constructor(private readonly options: FileSourceOptions) {
    this.reader = new ConfigReader(options.path, options.parse);
    this.timers = options.timers ?? realTimers;
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  /**
   * Loads the file and starts watching it. The first result is returned, not passed to
   * onChange: at start a bad file is fatal (`vipgate agent` exits 2), later it is not.
   */
  async start(): Promise<LoadResult> {
    this.stopped = false;
    const first = await this.load();
    if (this.isStopped()) return first;
    this.startWatch();
    if (this.pollIntervalMs > 0) {
      this.poll = this.timers.setInterval(() => void this.checkNow(), this.pollIntervalMs);
    }
    return first;
  }

  /** Stops watching; no onChange is called afterwards. `current()` keeps its value. */
  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.debounce !== undefined) this.timers.clearTimeout(this.debounce);
    if (this.poll !== undefined) this.timers.clearInterval(this.poll);
    this.debounce = undefined;
    this.poll = undefined;
  }

  /** The last config that loaded without errors, or undefined if none ever did. */
  current(): AgentConfig | undefined {
    return this.lastGood;
  }

  /** Re-reads the file now (on SIGHUP, say); calls onChange if its content changed. */
  async checkNow(): Promise<void> {
    if (this.running !== undefined) {
      // A read is under way and may have seen the old bytes: read once more after it.
      this.again = true;
      return this.running;
    }
    this.running = this.drain();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async drain(): Promise<void> {
    do {
      const before = this.lastSeen;
      const result = await this.load();
      if (this.isStopped() || this.lastSeen === before) continue;
      try {
        this.options.onChange(result);
      } catch (err) {
        this.warn('the onChange callback threw; the file source goes on watching', err);
      }
    } while (this.takeAgain() && !this.isStopped());
  }

  /** Whether another read was asked for while this one ran; clears the request. */
  private takeAgain(): boolean {
    const again = this.again;
    this.again = false;
    return again;
  }

  /** A method, not the field, so the compiler doesn't assume it unchanged across an await. */
  private isStopped(): boolean {
    return this.stopped;
  }

  /** Reads and parses the file, remembering what was seen and the last good config. */
  private async load(): Promise<LoadResult> {
    let text: string;
    try {
      text = await readConfigText(this.options.path);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.lastSeen = `unreadable:${err.issues[0]?.message ?? ''}`;
      return { ok: false, error: err };
    }
    const hash = createHash('sha256').update(text).digest('hex');
    const result = this.parse(text);
    this.lastSeen = hash;
    if (result.ok) this.lastGood = result.config;
    return result;
  }

  private parse(text: string): LoadResult {
    try {
      return { ok: true, config: this.reader.read(text) };
    } catch (err) {
      if (err instanceof ConfigError) return { ok: false, error: err };
      throw err;
    }
  }

  private startWatch(): void {
    const watchDirectory = this.options.watch ?? realWatch;
    const name = basename(this.options.path);
    try {
      this.watcher = watchDirectory(dirname(this.options.path), (_event, filename) => {
        // Some platforms give no name; then any event in the directory may be ours.
        if (filename === null || filename === name) this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.watcher?.close();
        this.watcher = undefined;
        this.warn('watching the config directory failed; relying on polling', err);
      });
    } catch (err) {
      this.warn('cannot watch the config directory; relying on polling', err);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce !== undefined) this.timers.clearTimeout(this.debounce);
    this.debounce = this.timers.setTimeout(() => {
      this.debounce = undefined;
      void this.checkNow();
    }, this.debounceMs);
  }

  private warn(message: string, cause: unknown): void {
    this.options.onWarning?.(`${this.options.path}: ${message}`, cause);
  }
}
