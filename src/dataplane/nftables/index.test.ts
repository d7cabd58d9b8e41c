// The dataplane's order of commits when element changes go over their own channel (netlink):
// chains before the elements that point at them, elements as one batch, unused chains after.
// The kernel side of the same is tested in test/nft-*.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ElementOp } from './diff.ts';
import { NftError, NftErrorCode } from './errors.ts';
import { nftKernel, nftablesDataplane, type ElementChannel, type NftRunner } from './index.ts';
import { elementText } from './set-elements.ts';
import { backend, frontend, table } from './testdata/fixtures.ts';

type Commit = { readonly via: 'nft'; readonly text: string } | { readonly via: 'netlink'; readonly ops: readonly ElementOp[] };

/** A runner and a channel that record what they are given; the kernel starts without the table. */
function recorder(options: { refuseNetlinkAt?: number; listing?: () => string } = {}) {
  const commits: Commit[] = [];
  let batches = 0;
  const runner: NftRunner = {
    kind: 'fake',
    run(text) {
      // `list ruleset inet` (terse): the skeleton when elements come over the channel.
      if (text === 'list ruleset inet') {
        try {
          return Promise.resolve(options.listing?.() ?? '');
        } catch {
          return Promise.resolve(''); // no table of ours in the namespace
        }
      }
      if (text.startsWith('list table')) {
        if (options.listing !== undefined) return Promise.resolve(options.listing());
        return Promise.reject(new NftError(NftErrorCode.commandFailed, 'missing', { nftMessage: 'Error: No such file or directory' }));
      }
      commits.push({ via: 'nft', text });
      return Promise.resolve('');
    },
    close: () => Promise.resolve(),
  };
  const channel: ElementChannel = {
    commit(ops) {
      batches += 1;
      if (batches === options.refuseNetlinkAt) {
        throw new NftError(NftErrorCode.commandFailed, 'netlink: delete element backends4tcp: ENOENT');
      }
      commits.push({ via: 'netlink', ops });
    },
    listElements: () => ({ elements: [], counts: new Map() }),
    close: () => undefined,
  };
  return { commits, runner, channel };
}

/** The nft text of a commit; fails the test when the commit went over netlink. */
function textOf(c: Commit | undefined): string {
  assert.equal(c?.via, 'nft');
  return c.text;
}

type TextOp = { readonly verb: 'add' | 'delete'; readonly set: string; readonly elements: readonly string[] } | { readonly verb: 'flush'; readonly set: string };

/** The element ops of a commit, their elements as nft text; fails the test when the commit was nft text. */
function opsOf(c: Commit | undefined): readonly TextOp[] {
  assert.equal(c?.via, 'netlink');
  return c.ops.map((op) => (op.verb === 'flush' ? op : { ...op, elements: op.elements.map(elementText) }));
}

const web = (address: string, n: number) => frontend(address, 80, { backends: Array.from({ length: n }, (_, i) => backend(`10.100.1.${i + 1}`, 8080)) });

test('cold load: the skeleton and the pick chain by nft, then every element in one netlink batch, verdicts last', async () => {
  const { commits, runner, channel } = recorder();
  const dp = nftablesDataplane({ kernel: nftKernel({ transactions: runner, skeletonLister: runner, elements: channel }) });
  await dp.apply(table([web('10.200.0.5', 2), web('10.200.0.6', 3)]));
  assert.equal(commits.length, 2);
  const [first, second] = commits;
  assert.match(textOf(first), /^add table inet vipgate\ndelete table inet vipgate\ntable inet vipgate \{/);
  assert.match(textOf(first), /add chain inet vipgate pick4_tcp_random_2\n.*\nadd rule inet vipgate pick4_tcp_random_2 dnat/);
  assert.doesNotMatch(textOf(first), /element/, 'no element goes through libnftables');
  const ops = opsOf(second);
  assert.deepEqual(ops.at(-1), { verb: 'add', set: 'frontends4', elements: ['10.200.0.5 . tcp . 80 : goto pick4_tcp_random_2', '10.200.0.6 . tcp . 80 : goto pick4_tcp_random_3'] });
  assert.deepEqual(ops.find((op) => op.set === 'backends4tcp'), {
    verb: 'add',
    set: 'backends4tcp',
    elements: ['10.200.0.5 . tcp . 80 . 0 : 10.100.1.1 . 8080', '10.200.0.5 . tcp . 80 . 1 : 10.100.1.2 . 8080', '10.200.0.6 . tcp . 80 . 0 : 10.100.1.1 . 8080', '10.200.0.6 . tcp . 80 . 1 : 10.100.1.2 . 8080', '10.200.0.6 . tcp . 80 . 2 : 10.100.1.3 . 8080'],
  });
});

test('a pick chain nobody uses any more is deleted after the batch that stops pointing at it', async () => {
  const { commits, runner, channel } = recorder();
  const dp = nftablesDataplane({ kernel: nftKernel({ transactions: runner, skeletonLister: runner, elements: channel }) });
  await dp.apply(table([web('10.200.0.5', 2)]));
  commits.length = 0;
  await dp.apply(table([web('10.200.0.5', 3)]));
  assert.deepEqual(commits.map((c) => c.via), ['nft', 'netlink', 'nft']);
  assert.match(textOf(commits[0]), /add rule inet vipgate pick4_tcp_random_3 /);
  assert.equal(textOf(commits[2]), 'delete chain inet vipgate pick4_tcp_random_2\n');
  const ops = opsOf(commits[1]);
  // The verdict element changes: deleted first, added last.
  assert.deepEqual(ops[0], { verb: 'delete', set: 'frontends4', elements: ['10.200.0.5 . tcp . 80'] });
  assert.deepEqual(ops.at(-1), { verb: 'add', set: 'frontends4', elements: ['10.200.0.5 . tcp . 80 : goto pick4_tcp_random_3'] });
});

test('a refused batch: the table is read back, and replaced whole when it is not usable', async () => {
  let listed = 0;
  const { commits, runner, channel } = recorder({
    refuseNetlinkAt: 2,
    listing: () => {
      listed += 1;
      if (listed === 1) throw new NftError(NftErrorCode.commandFailed, 'missing', { nftMessage: 'Error: No such file or directory' });
      return ''; // the read-back after the refusal: no table of ours → replaced whole
    },
  });
  const dp = nftablesDataplane({ kernel: nftKernel({ transactions: runner, skeletonLister: runner, elements: channel }) });
  await dp.apply(table([web('10.200.0.5', 2)]));
  const report = await dp.apply(table([web('10.200.0.5', 2), web('10.200.0.6', 2)]));
  assert.equal(listed, 2, 'read back after the refusal');
  assert.equal(report.driftRepaired, true);
  // The batch was refused, the read-back found no usable table, and one nft transaction
  // replaced the table whole, elements included.
  const last = commits.at(-1);
  assert.match(textOf(last), /^add table inet vipgate\ndelete table inet vipgate\n/);
  assert.match(textOf(last), /add element inet vipgate frontends4 \{ 10\.200\.0\.5 \. tcp \. 80 : goto pick4_tcp_random_2, 10\.200\.0\.6 \. tcp \. 80 : goto pick4_tcp_random_2 \}/);
});

test('a kernel without an element channel keeps the whole step in one nft transaction', async () => {
  const { commits, runner } = recorder();
  const dp = nftablesDataplane({ kernel: nftKernel({ transactions: runner }) });
  await dp.apply(table([web('10.200.0.5', 2)]));
  assert.equal(commits.length, 1);
  assert.match(textOf(commits[0]), /add element inet vipgate frontends4/);
});
