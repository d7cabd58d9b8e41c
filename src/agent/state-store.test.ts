import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { currentBootId, fileAssignmentStore, runMarker, runMarkerPath } from './state-store.ts';

test('assignments survive a save and load; a missing file is an empty start', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vipgate-state-'));
  const store = fileAssignmentStore(join(dir, 'sub', 'assignments.json'));
  assert.equal((await store.load()).size, 0);
  await store.save(new Map([['default/web', ['10.200.0.3', 'fd00:200::2']]]));
  assert.deepEqual([...(await store.load())], [['default/web', ['10.200.0.3', 'fd00:200::2']]]);
  assert.match(await readFile(join(dir, 'sub', 'assignments.json'), 'utf8'), /"version": 1/);
});

test('a damaged state file is a STATE_FILE error naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vipgate-state-'));
  const path = join(dir, 'assignments.json');
  await writeFile(path, '{"version": 7}');
  await assert.rejects(fileAssignmentStore(path).load(), (e: Error & { code?: string }) => e.code === 'STATE_FILE' && e.message.includes(path));
});

test('a state file that cannot be written is a STATE_FILE error saying what is lost and what to mount', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vipgate-state-'));
  // A file where the directory should be: mkdir fails as on a read-only root filesystem.
  await writeFile(join(dir, 'lib'), '');
  const path = join(dir, 'lib', 'vipgate', 'assignments.json');
  await assert.rejects(fileAssignmentStore(path).save(new Map([['default/web', ['10.200.0.3']]])), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'STATE_FILE');
    assert.match(e.message, /^cannot write .*assignments\.json: .*; VIPs are served, .* \(mount a writable volume at .*lib\/vipgate, or pass --state-file\)$/);
    return true;
  });
});

test('run marker: none → first start; same boot → restarted with forwarding kept; another boot → restarted, forwarding lost', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vipgate-run-'));
  try {
    let boot = 'boot-a';
    const marker = runMarker(runMarkerPath(join(dir, 'assignments.json')), () => Promise.resolve(boot));
    assert.equal(marker.path, join(dir, 'assignments.json.run'));
    assert.deepEqual(await marker.read(), { restarted: false, forwardingPreserved: false });
    await marker.write();
    assert.deepEqual(await marker.read(), { restarted: true, forwardingPreserved: true });
    boot = 'boot-b'; // a reboot: the kernel's nftables/XDP state is gone
    assert.deepEqual(await marker.read(), { restarted: true, forwardingPreserved: false });
    await writeFile(marker.path, 'not json');
    assert.deepEqual(await marker.read(), { restarted: true, forwardingPreserved: false });
    await marker.remove();
    assert.deepEqual(await marker.read(), { restarted: false, forwardingPreserved: false }, '--cleanup forgets the run');
    assert.match(await currentBootId(), /^[0-9a-f-]{36}$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
