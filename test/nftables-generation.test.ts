// A resync skips reading the table back while the ruleset generation is where the dataplane
// left it, and reads it in full as soon as anything else commits. Needs root. The checks run
// in a child (this same file, VGT_NFT_GENERATION_CHILD=1) started inside a namespace of our
// own, because libnftables and the netlink generation both act in the process's namespace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { cliRunner, ffiRunner, nftKernel, nftablesDataplane, type NftRunner } from '../src/dataplane/nftables/index.ts';
import { netlinkGeneration } from '../src/dataplane/nftables/generation.ts';
import { nftNetlink } from '../src/dataplane/nftables/netlink/index.ts';
import type { Frontend, ServiceTable } from '../src/model/index.ts';
import { readyBackend, webFrontend } from './support/frontends.ts';

interface ChildReport {
  readonly steps: readonly { readonly step: string; readonly changed: boolean; readonly driftRepaired: boolean; readonly listings: number }[];
}

const web = (backends: readonly string[]): Frontend => webFrontend('10.200.0.5', 'tcp', backends.map((address) => readyBackend(address, 8080)));

async function child(): Promise<void> {
  const nft = (args: string[]): void => {
    const r = spawnSync('nft', args, { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr}`);
  };
  let listings = 0;
  // A read-back is the terse skeleton (libnftables here) plus the elements over netlink; a full
  // listing would go to the CLI lister (a child process). Every kind is counted.
  const counting = (inner: NftRunner): NftRunner => ({
    kind: inner.kind,
    run: (text) => {
      if (text.startsWith('list table') || text.startsWith('list ruleset')) listings++;
      return inner.run(text);
    },
    close: () => inner.close(),
  });
  const dataplane = nftablesDataplane({
    kernel: nftKernel({ transactions: counting(ffiRunner()), lister: counting(cliRunner()), skeletonLister: counting(ffiRunner({ terse: true })), elements: nftNetlink(), generation: netlinkGeneration() }),
  });
  const table: ServiceTable = { frontends: [web(['10.100.1.41', '10.100.1.42'])], denySources: [] };
  const steps: { step: string; changed: boolean; driftRepaired: boolean; listings: number }[] = [];
  const step = async (name: string, t: ServiceTable, resync: boolean): Promise<void> => {
    const before = listings;
    const r = await dataplane.apply(t, { resync });
    steps.push({ step: name, changed: r.changed, driftRepaired: r.driftRepaired, listings: listings - before });
  };
  try {
    await step('first', table, true);
    await step('resync, nothing changed', table, true);
    await step('one backend changed', { ...table, frontends: [web(['10.100.1.41'])] }, false);
    await step('resync after our own change', { ...table, frontends: [web(['10.100.1.41'])] }, true);
    nft(['delete', 'element', 'inet', 'vipgate', 'backends4tcp', '{ 10.200.0.5 . tcp . 80 . 0 }']);
    await step('resync after a hand change', { ...table, frontends: [web(['10.100.1.41'])] }, true);
    nft(['add', 'table', 'inet', 'vgtother']);
    await step('resync after a change elsewhere', { ...table, frontends: [web(['10.100.1.41'])] }, true);
    await step('resync again', { ...table, frontends: [web(['10.100.1.41'])] }, true);
  } finally {
    await dataplane.cleanup();
    await dataplane.close();
  }
  process.stdout.write(`${JSON.stringify({ steps } satisfies ChildReport)}\n`);
}

if (process.env['VGT_NFT_GENERATION_CHILD'] === '1') {
  await child();
} else {
  const ns = `vgt${randomBytes(2).toString('hex')}-gen`;
  before(() => {
    const r = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', ns]);
  });

  test('a resync reads the table back only when the ruleset generation moved under it', () => {
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url)], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, VGT_NFT_GENERATION_CHILD: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildReport;
    const row = (name: string): [boolean, boolean, number] => {
      const s = report.steps.find((x) => x.step === name)!;
      return [s.changed, s.driftRepaired, s.listings];
    };
    assert.deepEqual(row('first'), [true, false, 1]);
    assert.deepEqual(row('resync, nothing changed'), [false, false, 0], 'read back although nothing had changed');
    assert.deepEqual(row('one backend changed'), [true, false, 0]);
    assert.deepEqual(row('resync after our own change'), [false, false, 0], 'our own write made the next resync read back');
    assert.deepEqual(row('resync after a hand change'), [true, true, 1], 'a hand change went unnoticed');
    assert.deepEqual(row('resync after a change elsewhere'), [false, false, 1]);
    assert.deepEqual(row('resync again'), [false, false, 0]);
  });
}
