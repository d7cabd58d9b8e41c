// The ways to the kernel are chosen once, when the kernel is opened, and said in the log. These
// only open (a library load, a netlink socket, a generation query); nothing is written.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeKernel, nftKernel, openNftKernel } from './kernel.ts';
import { cliRunner } from './nft.ts';

function logger() {
  const lines: { level: 'info' | 'warn'; fields: object; message: string }[] = [];
  return {
    lines,
    log: {
      info: (fields: object, message: string) => lines.push({ level: 'info', fields, message }),
      warn: (fields: object, message: string) => lines.push({ level: 'warn', fields, message }),
    },
  };
}

test('a namespace is an explicit choice: the nft CLI in it for everything, elements as text, no generation', async () => {
  const { lines, log } = logger();
  const kernel = openNftKernel({ netns: 'vgt-nowhere', log });
  assert.deepEqual(kernel.chosen, { transactions: 'cli', elements: 'nft text', generation: 'none' });
  assert.equal(kernel.elements, undefined);
  assert.equal(kernel.skeletonLister, undefined);
  assert.equal(kernel.lister, kernel.transactions);
  assert.equal(kernel.generation(), undefined);
  assert.deepEqual(lines, [], 'nothing probed, nothing to warn about');
  await kernel.close();
});

test('libnftables that does not load: the nft CLI is chosen once, with one warning, and the choice is logged', async () => {
  const { lines, log } = logger();
  const kernel = openNftKernel({ library: 'libvipgate-no-such-nftables.so.1', log });
  assert.equal(kernel.chosen.transactions, 'cli');
  assert.equal(kernel.skeletonLister, undefined, 'the terse skeleton listing needs libnftables');
  assert.equal(kernel.lister, kernel.transactions);
  const warnings = lines.filter((l) => l.level === 'warn' && l.message.startsWith('libnftables unavailable'));
  assert.equal(warnings.length, 1);
  assert.match(JSON.stringify(warnings[0]!.fields), /libvipgate-no-such-nftables/);
  const chosen = lines.filter((l) => l.message === 'nftables kernel interfaces chosen');
  assert.equal(chosen.length, 1);
  assert.deepEqual(chosen[0]!.fields, { ...kernel.chosen, listing: 'cli' });
  // Elements go over nfnetlink exactly when the socket opened, and the description says which.
  assert.equal(kernel.chosen.elements, kernel.elements === undefined ? 'nft text' : 'nfnetlink');
  assert.match(describeKernel(kernel.chosen), /^cli, elements as (nfnetlink|nft text), generation (over nfnetlink|unknown)$/);
  await kernel.close();
});

test('a kernel of given parts says what it was given', async () => {
  const runner = cliRunner();
  const kernel = nftKernel({ transactions: runner, generation: () => 7 });
  assert.deepEqual(kernel.chosen, { transactions: 'cli', elements: 'nft text', generation: 'nfnetlink' });
  assert.equal(kernel.generation(), 7);
  assert.equal(describeKernel(kernel.chosen), 'cli, elements as nft text, generation over nfnetlink');
  await kernel.close();
});
