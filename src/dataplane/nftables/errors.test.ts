// nft's refusals as the agent reports them: the offending line, and the capability a container
// lacks when the kernel says "Operation not permitted".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandFailed } from './errors.ts';

test('a refused line is named with its text', () => {
  const e = commandFailed('<cmdline>:2:1-4: Error: syntax error, unexpected junk\njunk\n^^^^', 'add table inet vipgate\njunk\n');
  assert.equal(e.message, 'nft refused the transaction at line 2 (junk): <cmdline>:2:1-4: Error: syntax error, unexpected junk');
  assert.equal(e.line, 2);
});

test('"Operation not permitted" names CAP_NET_ADMIN (a container without it)', () => {
  const e = commandFailed('netlink: Error: cache initialization failed: Operation not permitted', 'add table inet vipgate\n');
  assert.equal(e.message, 'nft refused the transaction: netlink: Error: cache initialization failed: Operation not permitted; changing nftables needs CAP_NET_ADMIN');
});
