// Applies a table through the kernel interfaces the agent chooses (libnftables through koffi,
// nfnetlink) in the network namespace this process runs in: they act where the process is, so a test starts this with `ip netns exec`.
// Usage: node --import tsx nft-ffi-child.ts '<ServiceTable JSON>'; prints the ApplyReport, then
// a resync report, as JSON lines.
import { nftablesDataplane, openNftKernel } from '../../src/dataplane/nftables/index.ts';
import type { ServiceTable } from '../../src/model/index.ts';

const table = JSON.parse(process.argv[2] ?? '') as ServiceTable;
const dataplane = nftablesDataplane({ kernel: openNftKernel() });
try {
  process.stdout.write(`${JSON.stringify(await dataplane.apply(table))}\n`);
  process.stdout.write(`${JSON.stringify(await dataplane.apply(table, { resync: true }))}\n`);
} finally {
  await dataplane.close();
}
