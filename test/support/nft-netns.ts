// A small self-contained namespace lab for the nftables dataplane tests: two clients, an LB,
// two backends, IPv4 and IPv6, all behind a unique prefix and removed afterwards. It never adds
// addresses or routes in the root namespace.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NftLab {
  readonly prefix: string;
  readonly ns: { readonly lb: string; readonly c1: string; readonly c2: string; readonly b1: string; readonly b2: string };
  /** Runs a command inside a namespace; throws with its stderr on failure. */
  exec(ns: string, args: readonly string[]): string;
  /** Remembers a process started for this lab, to be killed (by PID) in destroy(). */
  track(child: ChildProcess): void;
  /** Stops the servers this lab started and deletes its namespaces. */
  destroy(): void;
}

function sh(args: readonly string[]): string {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr || r.error?.message || r.status}`);
  return r.stdout;
}

// Backend server: HTTP on 8080 (v4 and v6) answering "<name> <client address>", UDP echo of
// the name on 5353. Each response closes its connection, so every request is a new flow.
const SERVER = `
const http = require('node:http'); const dgram = require('node:dgram'); const name = process.argv[1];
const srv = http.createServer((q, s) => { s.setHeader('connection', 'close'); s.end(name + ' ' + q.socket.remoteAddress); });
srv.listen({ port: 8080, host: '::', ipv6Only: false }, () => {
  const u4 = dgram.createSocket('udp4'); u4.on('message', (m, r) => u4.send(name, r.port, r.address));
  u4.bind(5353, () => process.stdout.write('ready\\n'));
});
setTimeout(() => process.exit(0), 120000).unref();
`;

export function createNftLab(): NftLab {
  const prefix = `vgt${randomBytes(2).toString('hex')}-`;
  const ns = { lb: `${prefix}lb`, c1: `${prefix}c1`, c2: `${prefix}c2`, b1: `${prefix}b1`, b2: `${prefix}b2` };
  const servers: ChildProcess[] = [];
  const made: string[] = [];
  const exec = (name: string, args: readonly string[]): string => sh(['ip', 'netns', 'exec', name, ...args]);
  const destroy = (): void => {
    for (const s of servers) if (s.pid !== undefined && s.exitCode === null) s.kill('SIGKILL');
    for (const name of made) spawnSync('ip', ['netns', 'del', name]);
  };
  try {
    for (const name of Object.values(ns)) {
      sh(['ip', 'netns', 'add', name]);
      made.push(name);
      exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    }
    exec(ns.lb, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    exec(ns.lb, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    // peer namespace, v4 subnet, v6 subnet
    const links: [string, string, string][] = [
      [ns.c1, '10.10.1', 'fd10:1::'],
      [ns.c2, '10.10.2', 'fd10:2::'],
      [ns.b1, '10.20.1', 'fd20:1::'],
      [ns.b2, '10.20.2', 'fd20:2::'],
    ];
    links.forEach(([peer, v4, v6], i) => {
      const lbSide = `${prefix}l${i}`;
      sh(['ip', 'link', 'add', lbSide, 'netns', ns.lb, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer]);
      exec(ns.lb, ['ip', 'addr', 'add', `${v4}.1/24`, 'dev', lbSide]);
      exec(ns.lb, ['ip', '-6', 'addr', 'add', `${v6}1/64`, 'dev', lbSide, 'nodad']);
      exec(ns.lb, ['ip', 'link', 'set', lbSide, 'up']);
      exec(peer, ['ip', 'addr', 'add', `${v4}.2/24`, 'dev', 'eth0']);
      exec(peer, ['ip', '-6', 'addr', 'add', `${v6}2/64`, 'dev', 'eth0', 'nodad']);
      exec(peer, ['ip', 'link', 'set', 'eth0', 'up']);
      exec(peer, ['ip', 'route', 'add', 'default', 'via', `${v4}.1`]);
      exec(peer, ['ip', '-6', 'route', 'add', 'default', 'via', `${v6}1`]);
    });
    return { prefix, ns, exec, destroy, track: (child) => servers.push(child) };
  } catch (error) {
    destroy();
    throw error;
  }
}

/** Starts the HTTP/UDP server in each backend namespace; resolves when all are listening. */
export async function startBackends(lab: NftLab): Promise<void> {
  await Promise.all(
    (['b1', 'b2'] as const).map(
      (name) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn('ip', ['netns', 'exec', lab.ns[name], process.execPath, '-e', SERVER, name], { stdio: ['ignore', 'pipe', 'inherit'] });
          lab.track(child);
          const timer = setTimeout(() => reject(new Error(`backend ${name} did not start`)), 5000);
          child.stdout.on('data', (d: Buffer) => {
            if (d.toString().includes('ready')) {
              clearTimeout(timer);
              resolve();
            }
          });
          child.on('exit', (code) => reject(new Error(`backend ${name} exited with ${code}`)));
        }),
    ),
  );
}

// Client: `count` HTTP GETs, one connection each, each body (or "ERR <code>") printed as a JSON
// line as soon as it arrives; each request is bounded by a 1.5 s timeout.
const CLIENT = `
const http = require('node:http'); const [url, count] = [process.argv[1], Number(process.argv[2])];
const one = () => new Promise((res) => {
  const q = http.get(url, { agent: false, timeout: 1500 }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => res(b)); });
  q.on('timeout', () => q.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
  q.on('error', (e) => res('ERR ' + (e.code || e.message)));
});
(async () => { for (let i = 0; i < count; i++) process.stdout.write(JSON.stringify(await one()) + '\\n'); })();
`;

/**
 * `count` sequential HTTP requests from a namespace; resolves with the bodies (or "ERR …").
 * `onBody` sees each as it arrives, so a test can act on what the traffic shows (not on a timer).
 */
export function httpBatch(ns: string, url: string, count: number, onBody?: (body: string, index: number) => void): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, url, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const bodies: string[] = [];
    let rest = '';
    let bad: string | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000 + count * 1600);
    child.stdout.on('data', (d: Buffer) => {
      rest += d.toString();
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        try {
          const body = JSON.parse(line) as string;
          bodies.push(body);
          onBody?.(body, bodies.length - 1);
        } catch {
          bad ??= line;
        }
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (bad !== undefined || bodies.length !== count) reject(new Error(`client in ${ns} printed ${bodies.length} of ${count} results${bad === undefined ? '' : `, and ${bad}`}`));
      else resolve(bodies);
    });
  });
}

const UDP_CLIENT = `
const dgram = require('node:dgram'); const [host, port] = [process.argv[1], Number(process.argv[2])];
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const t = setTimeout(() => { process.stdout.write('ERR TIMEOUT'); process.exit(0); }, 1500);
s.on('message', (m) => { clearTimeout(t); process.stdout.write(m.toString()); s.close(); });
s.send('hello', port, host);
`;

/** One UDP request/answer from a namespace; resolves with the answer or "ERR TIMEOUT". */
export function udpAsk(ns: string, host: string, port: number): string {
  return sh(['ip', 'netns', 'exec', ns, process.execPath, '-e', UDP_CLIENT, host, String(port)]);
}
