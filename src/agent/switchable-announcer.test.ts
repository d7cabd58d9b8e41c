import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Announcer } from './announcer.ts';
import { switchableAnnouncer } from './switchable-announcer.ts';

function recording(kind: string): Announcer & { log: string[] } {
  const log: string[] = [];
  return {
    kind,
    log,
    setAdvertisements(prefixes) {
      log.push(`set ${prefixes.join(',')}`);
      return Promise.resolve();
    },
    stop() {
      log.push('stop');
      return Promise.resolve();
    },
  };
}

test('a swap stops the old announcer and tells the new one the last advertisements at once', async () => {
  const staticRoutes = recording('static');
  const bgp = recording('bgp');
  const a = switchableAnnouncer(staticRoutes);
  assert.equal(a.kind, 'static');
  await a.setAdvertisements(['10.200.0.5/32']);
  await a.swap(bgp);
  assert.equal(a.kind, 'bgp');
  assert.equal(a.current(), bgp);
  assert.deepEqual(staticRoutes.log, ['set 10.200.0.5/32', 'stop']);
  assert.deepEqual(bgp.log, ['set 10.200.0.5/32']);
  await a.setAdvertisements(['10.200.0.5/32', '10.200.0.6/32']);
  assert.deepEqual(bgp.log, ['set 10.200.0.5/32', 'set 10.200.0.5/32,10.200.0.6/32']);
  assert.deepEqual(staticRoutes.log, ['set 10.200.0.5/32', 'stop'], 'the old one hears nothing more');
});

test('a swap before any pass hands nothing over; swapping to the same one does nothing', async () => {
  const one = recording('static');
  const two = recording('bgp');
  const a = switchableAnnouncer(one);
  await a.swap(one);
  assert.deepEqual(one.log, []);
  await a.swap(two);
  assert.deepEqual(two.log, []);
  await a.stop();
  assert.deepEqual(two.log, ['stop']);
});
