import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pool } from '../model/index.ts';
import { externalIPPolicyFromPools } from './external-ip-policy.ts';

function pool(name: string, addresses: string[], extra: Partial<Pool> = {}): Pool {
  return { name, addresses, autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: true, namespaces: [], reserved: [], priority: 0, ...extra };
}

test('params: only pools allowing externalIPs, by name, ranges as the fewest exact CIDRs, namespaces when limited', () => {
  const params = externalIPPolicyFromPools([
    pool('zeta', ['10.200.0.0/24']),
    pool('alpha', ['10.201.0.0-10.201.0.255', 'fd00:200::/64', '10.201.1.7'], { namespaces: ['shop'] }),
    pool('closed', ['10.202.0.0/24'], { allowExternalIPs: false }),
  ]);
  assert.deepEqual(params, {
    apiVersion: 'vipgate.io/v1alpha1',
    kind: 'ExternalIPPolicy',
    metadata: { name: 'vipgate', labels: params.metadata.labels },
    spec: {
      pools: [
        { name: 'alpha', cidrs: ['10.201.0.0/24', 'fd00:200::/64', '10.201.1.7/32'], namespaces: ['shop'] },
        { name: 'zeta', cidrs: ['10.200.0.0/24'] },
      ],
    },
  });
});

test('params: the same pools in another order give the same object (the controller writes only on change)', () => {
  const a = [pool('a', ['10.0.0.0/24']), pool('b', ['10.0.1.0/24'])];
  assert.deepEqual(externalIPPolicyFromPools(a), externalIPPolicyFromPools([...a].reverse()));
  assert.deepEqual(externalIPPolicyFromPools([]).spec.pools, []);
});

test('params: an unparsable entry throws rather than silently admitting nothing or everything', () => {
  assert.throws(() => externalIPPolicyFromPools([pool('x', ['10.0.0.0/33'])]), /prefix length/);
});
