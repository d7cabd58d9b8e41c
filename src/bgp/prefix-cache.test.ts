import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAdvertisements, PrefixCache } from './advertisement.ts';

test('parsing with a PrefixCache gives the same routes as without, also for non-canonical text', () => {
  const list = [{ prefix: '10.200.0.5/32', communities: ['65002:1'] }, { prefix: 'FD00:200::0005/128' }, { prefix: '10.200.0.6/32', communities: ['65002:1'] }];
  const cache = new PrefixCache();
  cache.begin();
  const first = parseAdvertisements(list, cache);
  assert.deepEqual(first, parseAdvertisements(list));
  assert.deepEqual(
    first.map((r) => r.prefixKey),
    ['10.200.0.5/32', 'fd00:200::5/128', '10.200.0.6/32'],
  );
  // One parsed list is shared by the routes that carry the same communities.
  assert.equal(first[0]?.communities, first[2]?.communities);
  cache.begin();
  const again = parseAdvertisements(list, cache);
  assert.equal(again[0]?.prefix, first[0]?.prefix, 'a prefix seen in the previous set is not parsed again');
  assert.throws(() => parseAdvertisements([{ prefix: '10.200.0.5/33' }], cache), { code: 'BGP_BAD_ADVERTISEMENT' });
});

test('a PrefixCache forgets prefixes the last set did not use', () => {
  const cache = new PrefixCache();
  cache.begin();
  const a = parseAdvertisements([{ prefix: '10.200.0.5/32' }], cache)[0]?.prefix;
  cache.begin();
  parseAdvertisements([{ prefix: '10.200.0.6/32' }], cache);
  cache.begin();
  parseAdvertisements([{ prefix: '10.200.0.7/32' }], cache);
  cache.begin();
  const b = parseAdvertisements([{ prefix: '10.200.0.5/32' }], cache)[0]?.prefix;
  assert.deepEqual(b, a);
  assert.notEqual(b, a, 'parsed afresh: the entry was dropped two sets ago');
});
