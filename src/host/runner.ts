import { execFile } from 'node:child_process';
import { CommandError } from './errors.ts';

/**
 * Runs one command to completion and returns its stdout; a non-zero exit becomes a
 * `CommandError` carrying stderr. The host module only ever talks to the kernel through this,
 * so unit tests record the exact argv without root, and lab tests run it inside a namespace.
 */
export interface CommandRunner {
  run(argv: readonly string[]): Promise<string>;
}

export interface CommandRunnerOptions {
  /** Run every command inside this network namespace (`ip netns exec <netns> …`). */
  readonly netns?: string;
  readonly timeoutMs?: number;
}

/** The real runner: spawns the command (no shell). */
export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  const prefix = options.netns === undefined ? [] : ['ip', 'netns', 'exec', options.netns];
  const timeout = options.timeoutMs ?? 10_000;
  return {
    run(argv) {
      const full = [...prefix, ...argv];
      const [file, ...args] = full;
      if (file === undefined) return Promise.reject(new CommandError(full, 'empty command', null));
      return new Promise((resolve, reject) => {
        execFile(file, args, { timeout, killSignal: 'SIGKILL', encoding: 'utf8' }, (error, stdout, stderr) => {
          if (error === null) {
            resolve(stdout);
            return;
          }
          const exitCode = typeof error.code === 'number' ? error.code : null;
          reject(new CommandError(argv, stderr || error.message, exitCode, { cause: error }));
        });
      });
    },
  };
}
