import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parseConfig } from './load.ts';
import { configSchema } from './schema.ts';

test('docs/config.md documents every field the schema accepts', async () => {
  const doc = await readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');
  const missing: string[] = [];
  const walk = (schema: unknown, path: string): void => {
    if (typeof schema !== 'object' || schema === null) return;
    const s = schema as { properties?: Record<string, unknown>; items?: unknown };
    for (const [name, sub] of Object.entries(s.properties ?? {})) {
      const full = path === '' ? name : `${path}.${name}`;
      if (!doc.includes(`\`${full}\``)) missing.push(full);
      walk(sub, full);
    }
    if (s.items !== undefined) walk(s.items, `${path}[]`);
  };
  walk(configSchema, '');
  assert.deepEqual(missing, []);
});

test('the example in docs/config.md is a valid config', async () => {
  const doc = await readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');
  const block = /## Example\n\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block !== undefined, 'docs/config.md has an Example section with a yaml block');
  const cfg = parseConfig(block, 'docs/config.md', { hostname: 'h' });
  assert.deepEqual(
    cfg.services.map((s) => s.name),
    ['nginx', 'web'],
  );
});
