// The polling helper every lab test waits with: if it returned early or never timed out, the
// tests built on it could not fail. Checked here on its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from './support/eventually.ts';

test('eventually returns the first value that is neither undefined nor false, not before', async () => {
  let calls = 0;
  const value = await eventually('the third call', () => Promise.resolve(++calls < 3 ? (calls === 1 ? undefined : false) : `call ${calls}`), 2000, 5);
  assert.equal(value, 'call 3');
  assert.equal(calls, 3);
});

test('eventually times out, naming what it waited for and the last error the check threw', async () => {
  const started = Date.now();
  await assert.rejects(
    eventually('a daemon that never answers', () => Promise.reject(new Error('connection refused')), 150, 10),
    (e: unknown) => e instanceof Error && /timed out after 150 ms waiting for a daemon that never answers: connection refused/.test(e.message),
  );
  assert.ok(Date.now() - started >= 150, 'gave up before its timeout');
});
