import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { NftError, NftErrorCode, commandFailed } from './errors.ts';

/** Runs nft text (commands, a transaction, `list …`) and returns what nft printed. */
export interface NftRunner {
  /** `libnftables` (in-process) or `cli`. */
  readonly kind: string;
  /** Throws NftError(NFT_COMMAND_FAILED) with nft's message and the offending line. */
  run(text: string): Promise<string>;
  /** Frees what the runner holds in this process; never touches the kernel's rules. */
  close(): Promise<void>;
}

/** Minimal structured logger (pino's shape). */
export interface NftLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface CliRunnerOptions {
  /** Run nft inside this network namespace (`ip netns exec <ns> nft -f -`): for tests. */
  readonly netns?: string;
  /** Default `nft`. */
  readonly nftPath?: string;
}

/** Spawns `nft -f -` per call (~18 ms each): the fallback and the test runner. */
export function cliRunner(options: CliRunnerOptions = {}): NftRunner {
  const nft = options.nftPath ?? 'nft';
  const [command, args] =
    options.netns === undefined ? [nft, ['-f', '-']] : ['ip', ['netns', 'exec', options.netns, nft, '-f', '-']];
  return {
    kind: 'cli',
    run(text) {
      return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
        child.on('error', (error) =>
          reject(new NftError(NftErrorCode.commandFailed, `could not run ${command}: ${error.message}`, {}, { cause: error })),
        );
        child.on('close', (code) => {
          if (code === 0) resolve(Buffer.concat(out).toString());
          else reject(commandFailed(Buffer.concat(err).toString() || `${command} exited with ${code}`, text));
        });
        child.stdin.on('error', () => undefined); // nft may exit before reading everything
        child.stdin.end(text);
      });
    },
    close: () => Promise.resolve(),
  };
}

interface NftFunctions {
  readonly ctx: unknown;
  readonly run: (ctx: unknown, text: string, done: (error: unknown, result: number) => void) => void;
  readonly output: (ctx: unknown) => string | null;
  readonly error: (ctx: unknown) => string | null;
  readonly free: (ctx: unknown) => void;
}

interface KoffiFunction {
  (...args: unknown[]): unknown;
  async: (...args: unknown[]) => void;
}

interface KoffiModule {
  load(path: string): { func(definition: string): KoffiFunction };
  opaque(name: string): unknown;
}

/** Library file name of libnftables 1.x (Debian `libnftables1`). */
export const LIBNFTABLES = 'libnftables.so.1';

/** libnftables.h NFT_CTX_OUTPUT_TERSE: listings leave out set elements (and the cache skips them for `list ruleset`). */
const NFT_CTX_OUTPUT_TERSE = 1 << 11;

interface NftLibrary {
  readonly ctxNew: KoffiFunction;
  readonly ctxFree: KoffiFunction;
  readonly bufferOutput: KoffiFunction;
  readonly bufferError: KoffiFunction;
  readonly getOutput: KoffiFunction;
  readonly getError: KoffiFunction;
  readonly runCmd: KoffiFunction;
  readonly setOutputFlags: KoffiFunction;
}

/** Per library file: koffi refuses a second declaration of the same type name in one process. */
const libraries = new Map<string, NftLibrary>();

function loadLibrary(library: string): NftLibrary {
  const known = libraries.get(library);
  if (known !== undefined) return known;
  // koffi is CommonJS with a native addon; createRequire keeps the load lazy and synchronous.
  const koffi = createRequire(import.meta.url)('koffi') as KoffiModule;
  const lib = koffi.load(library);
  if (libraries.size === 0) koffi.opaque('nft_ctx');
  const loaded: NftLibrary = {
    ctxNew: lib.func('nft_ctx *nft_ctx_new(uint32_t flags)'),
    ctxFree: lib.func('void nft_ctx_free(nft_ctx *ctx)'),
    bufferOutput: lib.func('int nft_ctx_buffer_output(nft_ctx *ctx)'),
    bufferError: lib.func('int nft_ctx_buffer_error(nft_ctx *ctx)'),
    getOutput: lib.func('const char *nft_ctx_get_output_buffer(nft_ctx *ctx)'),
    getError: lib.func('const char *nft_ctx_get_error_buffer(nft_ctx *ctx)'),
    runCmd: lib.func('int nft_run_cmd_from_buffer(nft_ctx *ctx, const char *buf)'),
    setOutputFlags: lib.func('void nft_ctx_output_set_flags(nft_ctx *ctx, unsigned int flags)'),
  };
  libraries.set(library, loaded);
  return loaded;
}

/** A context of its own (libnftables keeps its cache and output buffers per context). */
function loadNft(library: string, terse: boolean): NftFunctions {
  const lib = loadLibrary(library);
  const ctx = lib.ctxNew(0);
  if (ctx === null) throw new Error('nft_ctx_new returned NULL');
  if (terse) lib.setOutputFlags(ctx, NFT_CTX_OUTPUT_TERSE);
  if (lib.bufferOutput(ctx) !== 0 || lib.bufferError(ctx) !== 0) {
    lib.ctxFree(ctx);
    throw new Error('nft_ctx_buffer_output/error failed');
  }
  return {
    ctx,
    // Big transactions (a cold 10k-service table) take a while: run them off the event loop.
    run: (c, text, done) => lib.runCmd.async(c, text, done),
    output: (c) => lib.getOutput(c) as string | null,
    error: (c) => lib.getError(c) as string | null,
    free: (c) => lib.ctxFree(c),
  };
}

export interface FfiRunnerOptions {
  readonly library?: string;
  /**
   * Listings without set elements. With nft 1.0.6 only `list ruleset` then also skips fetching
   * them (1 ms and ~5 MB at 130k elements, where `list table` takes ~1.5 s and ~220 MB even terse).
   */
  readonly terse?: boolean;
}

/**
 * libnftables in this process through koffi (~0.15 ms a transaction). It acts in the network
 * namespace of this process. Loads the library on construction; throws
 * NftError(NFT_FFI_UNAVAILABLE) if it can't.
 */
export function ffiRunner(options: FfiRunnerOptions = {}): NftRunner {
  const library = options.library ?? LIBNFTABLES;
  let nft: NftFunctions | undefined;
  try {
    nft = loadNft(library, options.terse === true);
  } catch (error) {
    throw new NftError(
      NftErrorCode.ffiUnavailable,
      `could not load ${library} through koffi: ${error instanceof Error ? error.message : String(error)}`,
      {},
      { cause: error },
    );
  }
  // One context, one call at a time: its output buffers are per context, and libnftables is
  // not thread-safe.
  let queue: Promise<unknown> = Promise.resolve();
  const runOne = (text: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const current = nft;
      if (current === undefined) {
        reject(new NftError(NftErrorCode.closed, 'the libnftables runner was closed; make a new one'));
        return;
      }
      current.run(current.ctx, text, (error, rc) => {
        if (error !== null && error !== undefined) {
          reject(new NftError(NftErrorCode.commandFailed, `libnftables call failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, {}, { cause: error }));
          return;
        }
        // Reading a buffer resets it, so both are read after every call.
        const output = current.output(current.ctx) ?? '';
        const errors = current.error(current.ctx) ?? '';
        if (rc === 0) resolve(output);
        else reject(commandFailed(errors || `nft_run_cmd_from_buffer returned ${rc}`, text));
      });
    });
  return {
    kind: 'libnftables',
    run(text) {
      const result = queue.then(() => runOne(text));
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      await queue;
      if (nft !== undefined) nft.free(nft.ctx);
      nft = undefined;
    },
  };
}
