import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrOf, parseCidr, parseIp } from '../net/index.ts';
import { parseAdvertisements, PrefixKeys } from './advertisement.ts';

test('a route is keyed by its canonical prefix text, however the prefix was written or built', () => {
  const list = [
    { prefix: parseCidr('10.200.0.5/32'), communities: ['65002:1'] },
    { prefix: parseCidr('FD00:200::0005/128') },
    { prefix: cidrOf(parseIp('10.200.0.6'), 32), communities: ['65002:1'] },
  ];
  const keys = new PrefixKeys();
  const first = parseAdvertisements(list, keys);
  assert.deepEqual(first, parseAdvertisements(list));
  assert.deepEqual(
    first.map((r) => r.prefixKey),
    ['10.200.0.5/32', 'fd00:200::5/128', '10.200.0.6/32'],
  );
  // One parsed list is shared by the routes that carry the same communities.
  assert.equal(first[0]?.communities, first[2]?.communities);
  // Equal prefixes from different objects are the same route: a set naming one twice is refused.
  assert.throws(() => parseAdvertisements([{ prefix: parseCidr('10.200.0.5/32') }, { prefix: cidrOf(parseIp('10.200.0.5'), 32) }], keys), {
    code: 'BGP_BAD_ADVERTISEMENT',
    message: /prefix 10\.200\.0\.5\/32 appears twice/,
  });
});
