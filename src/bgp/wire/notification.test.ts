import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BgpMessageError } from '../errors.ts';
import { hex } from './bird-capture.fixture.ts';
import { CeaseSubcode, ErrorCode, HeaderErrorSubcode } from './constants.ts';
import { describeNotification, notificationName } from './notification-names.ts';
import {
  MAX_SHUTDOWN_MESSAGE_BYTES,
  decodeKeepalive,
  decodeNotification,
  decodeRouteRefresh,
  encodeKeepalive,
  encodeNotification,
  hardResetData,
  encodeRouteRefresh,
} from './notification.ts';

const MARKER = 'ff'.repeat(16);

test('NOTIFICATION hex fixture: Cease / Administrative Shutdown with an RFC 8203 message', () => {
  const bytes = hex(
    MARKER +
      '001b' + // length 27
      '03' + // type NOTIFICATION
      '06' + // error code 6, Cease
      '02' + // subcode 2, Administrative Shutdown
      '05' + // shutdown communication length 5
      '6d61696e74', // "maint"
  );
  assert.deepEqual(decodeNotification(bytes), {
    type: 'notification',
    code: ErrorCode.cease,
    subcode: CeaseSubcode.administrativeShutdown,
    data: Uint8Array.of(5, 0x6d, 0x61, 0x69, 0x6e, 0x74),
    shutdownMessage: 'maint',
  });
  assert.deepEqual(encodeNotification({ code: 6, subcode: 2, shutdownMessage: 'maint' }), bytes);
});

test('NOTIFICATION round trip; a long shutdown message is cut at a character boundary', () => {
  const plain = decodeNotification(encodeNotification({ code: 3, subcode: 11, data: Uint8Array.of(1, 2) }));
  assert.deepEqual(plain, { type: 'notification', code: 3, subcode: 11, data: Uint8Array.of(1, 2) });
  const long = 'é'.repeat(100); // 200 bytes of UTF-8
  const n = decodeNotification(encodeNotification({ code: 6, subcode: 2, shutdownMessage: long }));
  assert.equal(n.shutdownMessage, 'é'.repeat(MAX_SHUTDOWN_MESSAGE_BYTES / 2));
  // Invalid UTF-8 in the message is not an error: it is just not shown as text.
  const bad = decodeNotification(hex(MARKER + '0018' + '03' + '0602' + '02c328'));
  assert.equal(bad.shutdownMessage, undefined);
  assert.deepEqual([...bad.data], [2, 0xc3, 0x28]);
});

test('KEEPALIVE is exactly 19 bytes', () => {
  assert.deepEqual(encodeKeepalive(), hex(MARKER + '0013' + '04'));
  assert.deepEqual(decodeKeepalive(encodeKeepalive()), { type: 'keepalive' });
  assert.throws(
    () => decodeKeepalive(hex(MARKER + '0014' + '04' + '00')),
    (e: unknown) => e instanceof BgpMessageError && e.code === ErrorCode.messageHeader && e.subcode === HeaderErrorSubcode.badMessageLength && e.data[1] === 20,
  );
});

test('ROUTE-REFRESH hex fixture and round trip', () => {
  const bytes = hex(MARKER + '0017' + '05' + '0002' + '00' + '01'); // AFI 2 (IPv6), reserved, SAFI 1
  assert.deepEqual(decodeRouteRefresh(bytes), { type: 'route-refresh', afi: 2, safi: 1 });
  assert.deepEqual(encodeRouteRefresh({ afi: 2, safi: 1 }), bytes);
});

test('Hard Reset (RFC 8538 §3) carries the Cease it stands for; its shutdown message is read through it', () => {
  const bytes = hex(
    'ff'.repeat(16) +
      '001d' + // length 29
      '03' + // NOTIFICATION
      '06' + // error code 6, Cease
      '09' + // subcode 9, Hard Reset
      '06' + // inner error code 6, Cease
      '02' + // inner subcode 2, Administrative Shutdown
      '05' + // shutdown communication length 5
      '6d61696e74', // "maint"
  );
  assert.deepEqual(encodeNotification({ code: 6, subcode: 9, data: hardResetData({ code: 6, subcode: 2, shutdownMessage: 'maint' }) }), bytes);
  const n = decodeNotification(bytes);
  assert.equal(n.shutdownMessage, 'maint');
  assert.equal(describeNotification('received', n.code, n.subcode, n.shutdownMessage), 'received NOTIFICATION 6/9 Cease / Hard Reset: maint');
});

test('NOTIFICATION names in words (IANA registries)', () => {
  assert.equal(describeNotification('sent', 3, 1, 'the attribute list ends with 2 stray byte(s)'), 'sent NOTIFICATION 3/1 UPDATE Message Error / Malformed Attribute List: the attribute list ends with 2 stray byte(s)');
  assert.equal(describeNotification('received', 6, 2, 'maintenance'), 'received NOTIFICATION 6/2 Cease / Administrative Shutdown: maintenance');
  assert.equal(notificationName(4, 0), 'Hold Timer Expired');
  assert.equal(notificationName(5, 3), 'Finite State Machine Error / Receive Unexpected Message in Established State');
  assert.equal(notificationName(2, 0), 'OPEN Message Error / Unspecific');
  assert.equal(notificationName(6, 99), 'Cease / subcode 99');
  assert.equal(notificationName(42, 1), 'error code 42 / subcode 1');
});
