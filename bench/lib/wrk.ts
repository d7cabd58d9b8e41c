// wrk (Debian) as the HTTP load generator: argv and a parser for its text report.

export interface WrkOptions {
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  readonly threads?: number;
  /** A new TCP connection per request (`Connection: close`): measures connection setup. */
  readonly newConnections: boolean;
  readonly timeoutSeconds?: number;
}

export interface WrkResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  /** Connect, read, write and timeout errors plus non-2xx/3xx answers. */
  readonly errors: number;
}

export function wrkArgv(o: WrkOptions): string[] {
  const argv = ['wrk', '-t', String(o.threads ?? 1), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', `${o.timeoutSeconds ?? 2}s`];
  if (o.newConnections) argv.push('-H', 'Connection: close');
  argv.push(o.url);
  return argv;
}

/** Reads wrk's summary. Throws when the report has no rate line (wrk failed before measuring). */
export function parseWrk(stdout: string): WrkResult {
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(stdout);
  const total = /^\s*(\d+) requests in /m.exec(stdout);
  if (rate === null || total === null) throw new Error(`wrk printed no "Requests/sec" line:\n${stdout.trim()}`);
  let errors = 0;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  if (socket !== null) errors += socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (non2xx !== null) errors += Number(non2xx[1]);
  return { requestsPerSecond: Number(rate[1]), requests: Number(total[1]), errors };
}
