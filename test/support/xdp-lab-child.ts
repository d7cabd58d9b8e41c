// Runs xdpDataplane inside a lab host (`ip netns exec` gives it a private mount namespace, so the
// bpffs mounted here vanishes with the process). argv[2]: JSON { options, table }.
// Prints "ready <attachments JSON>" after the first apply; detaches and exits on SIGTERM.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceTable } from '../../src/model/index.ts';
import { xdpDataplane, type XdpDataplaneOptions } from '../../src/dataplane/xdp/index.ts';

const { options, table } = JSON.parse(process.argv[2] ?? '{}') as { options: Omit<XdpDataplaneOptions, 'pinDir'>; table: ServiceTable };
const bpffs = mkdtempSync(join(tmpdir(), 'vgtxdp-'));
execFileSync('mount', ['-t', 'bpf', 'bpf', bpffs]);
const dp = xdpDataplane({ ...options, pinDir: join(bpffs, 'vipgate') });
await dp.apply(table);
console.log(`ready ${JSON.stringify(dp.attachments)}`);
const stop = (): void => {
  void dp.cleanup().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setInterval(() => undefined, 60_000);
