import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FileSource, type DirectoryWatcher, type FileSourceTimers, type LoadResult } from './file.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vipgate-file-source-'));
  dirs.push(dir);
  return dir;
}

function config(nodeName: string, port = 80): string {
  return `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
nodeName: ${nodeName}
services:
  - name: web
    externalIPs: [10.200.0.5]
    ports: [{ port: ${port} }]
`;
}

/** Replaces the file the way editors do: write a sibling, rename it over the original. */
async function replaceFile(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp-${process.hrtime.bigint()}`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/** Collects onChange results; `next()` waits for the next one, failing after a bound. */
function recorder(): { onChange: (r: LoadResult) => void; next: (ms?: number) => Promise<LoadResult>; count: () => number } {
  const results: LoadResult[] = [];
  const waiters: ((r: LoadResult) => void)[] = [];
  let taken = 0;
  return {
    onChange: (r) => {
      results.push(r);
      waiters.shift()?.(r);
    },
    count: () => results.length,
    next: (ms = 5000) => {
      const ready = results[taken];
      if (ready !== undefined) {
        taken++;
        return Promise.resolve(ready);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no onChange within ${ms} ms`));
        }, ms);
        waiters.push((r) => {
          clearTimeout(timer);
          taken++;
          resolve(r);
        });
      });
    },
  };
}

test('a bad edit is reported and the last good config stays current; a good rename-replace is picked up', async () => {
  const dir = await tempDir();
  const path = join(dir, 'lb1.yaml');
  await writeFile(path, config('first'));
  const events = recorder();
  const source = new FileSource({ path, onChange: events.onChange, debounceMs: 20, pollIntervalMs: 0 });
  try {
    const first = await source.start();
    assert.equal(first.ok, true);
    assert.equal(source.current()?.nodeName, 'first');

    await replaceFile(path, config('second', 70000));
    const bad = await events.next();
    assert.equal(bad.ok, false);
    assert.equal(bad.error.format(), `${path}:7:21: services[0].ports[0].port: 70000 is not allowed; expected an integer 1–65535`);
    assert.equal(source.current()?.nodeName, 'first', 'the last good config keeps serving');

    await replaceFile(path, config('third'));
    const good = await events.next();
    assert.equal(good.ok, true);
    assert.equal(good.config.nodeName, 'third');
    assert.equal(source.current()?.nodeName, 'third');

    // The same bytes written again are not a change.
    await replaceFile(path, config('third'));
    await source.checkNow();
    assert.equal(events.count(), 2);
  } finally {
    source.stop();
  }
});

test('a deleted file is reported once; the config comes back when the file does', async () => {
  const dir = await tempDir();
  const path = join(dir, 'lb1.yaml');
  await writeFile(path, config('kept'));
  const events = recorder();
  const source = new FileSource({ path, onChange: events.onChange, debounceMs: 20, pollIntervalMs: 0 });
  try {
    await source.start();
    await rm(path);
    const gone = await events.next();
    assert.equal(gone.ok, false);
    assert.equal(gone.error.code, 'CONFIG_UNREADABLE');
    assert.equal(source.current()?.nodeName, 'kept');
    await source.checkNow();
    assert.equal(events.count(), 1, 'a file that stays missing is not reported again');
    await writeFile(path, config('back'));
    const back = await events.next();
    assert.equal(back.ok && back.config.nodeName, 'back');
  } finally {
    source.stop();
  }
});

test('when the directory cannot be watched, polling still picks up changes', async () => {
  const dir = await tempDir();
  const path = join(dir, 'lb1.yaml');
  await writeFile(path, config('polled'));
  const events = recorder();
  const warnings: string[] = [];
  const source = new FileSource({
    path,
    onChange: events.onChange,
    pollIntervalMs: 25,
    onWarning: (message) => warnings.push(message),
    watch: () => {
      throw new Error('ENOSPC: inotify watches exhausted');
    },
  });
  try {
    await source.start();
    assert.deepEqual(warnings, [`${path}: cannot watch the config directory; relying on polling`]);
    await writeFile(path, config('polled-again'));
    const changed = await events.next();
    assert.equal(changed.ok && changed.config.nodeName, 'polled-again');
  } finally {
    source.stop();
  }
});

test('a burst of events is debounced into one read, and nothing fires after stop()', async () => {
  const dir = await tempDir();
  const path = join(dir, 'lb1.yaml');
  await writeFile(path, config('a'));
  const pending = new Map<number, () => void>();
  let nextHandle = 0;
  const timers: FileSourceTimers = {
    setTimeout: (callback) => {
      pending.set(++nextHandle, callback);
      return nextHandle;
    },
    clearTimeout: (handle) => {
      pending.delete(handle as number);
    },
    setInterval: () => assert.fail('polling is off'),
    clearInterval: () => undefined,
  };
  let deliver: (filename: string | null) => void = () => undefined;
  const watcher: DirectoryWatcher = { close: () => undefined, on: () => watcher };
  const events = recorder();
  const source = new FileSource({
    path,
    onChange: events.onChange,
    pollIntervalMs: 0,
    timers,
    watch: (watched, listener) => {
      assert.equal(watched, dir, 'the directory is watched, not the file');
      deliver = (filename) => listener('rename', filename);
      return watcher;
    },
  });
  await source.start();
  await writeFile(path, config('b'));
  deliver('lb1.yaml');
  deliver('lb1.yaml.swp');
  deliver(null);
  deliver('lb1.yaml');
  assert.equal(pending.size, 1, 'each event restarts one debounce timer');
  deliver('other.yaml');
  assert.equal(pending.size, 1, 'events for other files are ignored');
  const fire = [...pending.values()][0];
  pending.clear();
  assert.ok(fire);
  fire();
  const result = await events.next();
  assert.equal(result.ok && result.config.nodeName, 'b');
  assert.equal(events.count(), 1);

  source.stop();
  await writeFile(path, config('c'));
  deliver('lb1.yaml');
  assert.equal(pending.size, 0, 'a stopped source schedules nothing');
  assert.equal(source.current()?.nodeName, 'b');
});
