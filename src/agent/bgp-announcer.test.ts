import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BgpConfig } from '../config/index.ts';
import { advertisementsFor } from './bgp-announcer.ts';

const base: BgpConfig = {
  routerId: '10.180.1.16',
  localASN: 65002,
  gracefulRestartSeconds: 120,
  peers: [],
  advertise: { aggregate: false, communities: ['65002:100'], largeCommunities: [] },
};

test('each servable VIP is announced as a host route with the configured attributes', () => {
  assert.deepEqual(advertisementsFor(['10.200.0.5/32', 'fd00:200::2/128'], { ...base, advertise: { ...base.advertise, localPref: 200 } }, []), [
    { prefix: '10.200.0.5/32', communities: ['65002:100'], localPref: 200 },
    { prefix: 'fd00:200::2/128', communities: ['65002:100'], localPref: 200 },
  ]);
});

test('with aggregate, the covering VIP interface route is announced once, only while a VIP in it is servable', () => {
  const config = { ...base, advertise: { ...base.advertise, aggregate: true, communities: [] } };
  const routes = ['10.200.0.0/16', 'fd00:200::/64'];
  assert.deepEqual(advertisementsFor(['10.200.0.2/32', '10.200.0.5/32'], config, routes), [{ prefix: '10.200.0.0/16' }]);
  assert.deepEqual(advertisementsFor([], config, routes), []);
  // A VIP outside every interface route is still announced, as itself.
  assert.deepEqual(advertisementsFor(['10.99.0.1/32'], config, routes), [{ prefix: '10.99.0.1/32' }]);
});
