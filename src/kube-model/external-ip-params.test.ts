import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pool } from '../model/index.ts';
import { externalIPParamsData } from './external-ip-params.ts';

function pool(name: string, addresses: string[], extra: Partial<Pool> = {}): Pool {
  return { name, addresses, autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: true, namespaces: [], reserved: [], priority: 0, ...extra };
}

test('params: per namespace (and .all-namespaces) the pools allowing externalIPs, by name, ranges as the fewest exact CIDRs', () => {
  const data = externalIPParamsData([
    pool('zeta', ['10.200.0.0/24']),
    pool('alpha', ['10.201.0.0-10.201.0.255', 'fd00:200::/64', '10.201.1.7'], { namespaces: ['shop', 'web'] }),
    pool('beta', ['10.203.0.0/24'], { namespaces: ['shop'] }),
    pool('closed', ['10.202.0.0/24'], { allowExternalIPs: false }),
  ]);
  assert.deepEqual(data, {
    '.all-namespaces': 'zeta=10.200.0.0/24',
    shop: 'alpha=10.201.0.0/24,fd00:200::/64,10.201.1.7/32 beta=10.203.0.0/24',
    web: 'alpha=10.201.0.0/24,fd00:200::/64,10.201.1.7/32',
  });
  // Every key is a valid ConfigMap key ([-._a-zA-Z0-9]+), and none can be a namespace's name.
  for (const key of Object.keys(data)) assert.match(key, /^[-._a-zA-Z0-9]+$/);
});

test('params: the same pools in another order give the same data (the controller writes only on change); none allow → no keys', () => {
  const a = [pool('a', ['10.0.0.0/24']), pool('b', ['10.0.1.0/24'])];
  assert.deepEqual(externalIPParamsData(a), externalIPParamsData([...a].reverse()));
  assert.deepEqual(externalIPParamsData([]), {});
  assert.deepEqual(externalIPParamsData([pool('x', ['10.0.0.0/24'], { allowExternalIPs: false })]), {});
});

test('params: an unparsable entry throws rather than silently admitting nothing or everything', () => {
  assert.throws(() => externalIPParamsData([pool('x', ['10.0.0.0/33'])]), /prefix length/);
});
