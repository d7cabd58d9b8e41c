// Running a command to completion, bounded in time, without a shell. The result keeps stdout
// even when the command fails or is killed, because a probe loop cut short still has answers.
import { execFile } from 'node:child_process';

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  /** null when killed (timeout) or when the command could not start. */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly input?: string;
}

export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.resolve({ stdout: '', stderr: 'empty command', exitCode: null, timedOut: false });
  const timeout = options.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ stdout, stderr, exitCode: 0, timedOut: false });
        return;
      }
      const timedOut = error.killed === true && error.signal === 'SIGKILL';
      const exitCode = typeof error.code === 'number' ? error.code : null;
      resolve({ stdout, stderr: stderr || error.message, exitCode, timedOut });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}
