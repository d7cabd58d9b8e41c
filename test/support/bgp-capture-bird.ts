// Records the bytes a real BIRD sends to a BGP neighbour, for the wire codec's fixtures.
// Run as root: `node --import tsx test/support/bgp-capture-bird.ts` — it builds two namespaces
// (vgtcap<hex>-r with BIRD, vgtcap<hex>-l with this listener), lets BIRD open a session and
// export two static routes (IPv4 and IPv6), prints every message BIRD sent as hex, and removes
// everything it made.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const run = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const tag = randomBytes(2).toString('hex');
const [nsR, nsL] = [`vgtcap${tag}-r`, `vgtcap${tag}-l`];
const dir = mkdtempSync(join(tmpdir(), 'vgt-bgp-capture-'));
let birdPid: number | undefined;

try {
  run('ip', 'netns', 'add', nsR);
  run('ip', 'netns', 'add', nsL);
  run('ip', 'link', 'add', `vc${tag}r`, 'netns', nsR, 'type', 'veth', 'peer', 'name', `vc${tag}l`, 'netns', nsL);
  run('ip', '-n', nsR, 'addr', 'add', '10.10.12.1/24', 'dev', `vc${tag}r`);
  run('ip', '-n', nsL, 'addr', 'add', '10.10.12.2/24', 'dev', `vc${tag}l`);
  for (const ns of [nsR, nsL]) {
    run('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  }
  run('ip', '-n', nsR, 'link', 'set', `vc${tag}r`, 'up');
  run('ip', '-n', nsL, 'link', 'set', `vc${tag}l`, 'up');
  writeFileSync(
    join(dir, 'R.conf'),
    `router id 10.10.12.1;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 10.99.0.0/24 unreachable; }
protocol static s6 { ipv6; route fd00:99::/64 unreachable; }
protocol bgp lb1 { local 10.10.12.1 as 65001; neighbor 10.10.12.2 as 65002; hold time 9; keepalive time 3;
  ipv4 { import none; export all; }; ipv6 { import none; export all; next hop address fd00:12::1; }; }
`,
  );
  const bird = spawn('ip', ['netns', 'exec', nsR, 'bird', '-f', '-c', join(dir, 'R.conf'), '-s', join(dir, 'R.ctl'), '-P', join(dir, 'R.pid')], { stdio: 'ignore' });
  bird.on('error', () => undefined);
  const listener = spawn('ip', ['netns', 'exec', nsL, process.execPath, '--import', 'tsx', join(import.meta.dirname, 'bgp-capture-listener.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  listener.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve) => listener.on('exit', () => resolve()));
  birdPid = Number(readFileSync(join(dir, 'R.pid'), 'utf8').trim());
  process.stdout.write(out);
} finally {
  if (birdPid !== undefined) {
    try {
      process.kill(birdPid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  for (const ns of [nsR, nsL]) {
    try {
      run('ip', 'netns', 'del', ns);
    } catch {
      /* not created */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
