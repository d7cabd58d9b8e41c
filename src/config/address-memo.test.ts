import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalIp, NetError } from '../net/index.ts';
import { canonicalOrError, rememberedCanonicalIp } from './address-memo.ts';

/** canonicalIp's own answer: the text, or the error's message. */
function direct(text: string): string {
  try {
    return canonicalIp(text);
  } catch (err) {
    assert.ok(err instanceof NetError);
    return `error: ${err.message}`;
  }
}

const addressLike = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.stringMatching(/^[0-9a-fA-F.:]{0,12}$/),
  fc.constantFrom('10.0.0.01', '256.1.1.1', 'FD00::0001', '::ffff:10.0.0.1', ''),
);

test('a remembered address reads exactly as canonicalIp reads it, the first time and again', () => {
  fc.assert(
    fc.property(addressLike, (text) => {
      for (let i = 0; i < 2; i++) {
        const remembered = canonicalOrError(text);
        assert.equal(typeof remembered === 'string' ? remembered : `error: ${remembered.message}`, direct(text));
      }
    }),
  );
});

test('rememberedCanonicalIp throws the NetError for text that is no address, every time', () => {
  for (let i = 0; i < 2; i++) assert.throws(() => rememberedCanonicalIp('10.0.0.300'), NetError);
  assert.equal(rememberedCanonicalIp('FD00::0001'), 'fd00::1');
});
