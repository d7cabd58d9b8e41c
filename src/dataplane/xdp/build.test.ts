import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPF_DIR, BPF_SOURCE, bpfSources, needsBuild } from './build.ts';

test('bpfSources: every .c and .h of the program, the compiled file among them', () => {
  const sources = bpfSources();
  assert.ok(sources.includes(BPF_SOURCE));
  assert.ok(sources.includes(join(BPF_DIR, 'vipgate.h')));
  assert.ok(sources.every((s) => s.endsWith('.c') || s.endsWith('.h')));
});

test('needsBuild: the object is stale once any .c or .h beside the program is newer, a header added since included', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgt-bpf-build-'));
  try {
    const at = (file: string, seconds: number): string => {
      writeFileSync(file, '');
      utimesSync(file, seconds, seconds);
      return file;
    };
    at(join(dir, 'prog.c'), 1000);
    at(join(dir, 'a.h'), 1000);
    mkdirSync(join(dir, 'build'));
    const object = at(join(dir, 'build', 'prog.o'), 2000);
    at(join(dir, 'notes.txt'), 3000); // not a source
    assert.equal(needsBuild(object, bpfSources(dir)), false);
    at(join(dir, 'b.h'), 3000);
    assert.equal(needsBuild(object, bpfSources(dir)), true);
    at(join(dir, 'b.h'), 1000);
    at(join(dir, 'a.h'), 3000);
    assert.equal(needsBuild(object, bpfSources(dir)), true);
    assert.equal(needsBuild(join(dir, 'build', 'missing.o'), bpfSources(dir)), true);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
