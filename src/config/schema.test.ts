import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configAjv, configSchema } from './schema.ts';

test('the config schema is a valid draft-07 schema under strict mode (the agent skips this check at start)', () => {
  const ajv = configAjv({ validateSchema: true });
  assert.equal(ajv.validateSchema(configSchema), true, JSON.stringify(ajv.errors));
  assert.doesNotThrow(() => ajv.compile(configSchema));
  assert.equal(configAjv({ validateSchema: true }).validateSchema({ type: 'nonsense' }), false, 'the check can fail');
});
