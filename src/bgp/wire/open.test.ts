import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BgpMessageError } from '../errors.ts';
import { hex } from './bird-capture.fixture.ts';
import { AS_TRANS, ErrorCode, HeaderErrorSubcode, OpenErrorSubcode } from './constants.ts';
import { decodeOpen, encodeOpen, senderAsn, twoOctetAsn, type OpenMessage } from './open.ts';

const MARKER = 'ff'.repeat(16);

test('OPEN round trip with every capability kind', () => {
  const open: OpenMessage = {
    type: 'open',
    version: 4,
    myAutonomousSystem: AS_TRANS,
    holdTimeSeconds: 90,
    bgpIdentifier: '10.180.1.16',
    capabilities: [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'multiprotocol', afi: 2, safi: 1 },
      { kind: 'route-refresh' },
      { kind: 'four-octet-as', asn: 4200000001 },
      { kind: 'graceful-restart', restarting: true, notification: false, restartTimeSeconds: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
      { kind: 'unknown', code: 73, value: Uint8Array.of(3, 0x6c, 0x62, 0x31) },
    ],
  };
  const decoded = decodeOpen(encodeOpen(open));
  assert.deepEqual(decoded, open);
  assert.equal(senderAsn(decoded), 4200000001);
});

test('OPEN hex fixture, field by field', () => {
  const bytes = hex(
    MARKER +
      '0025' + // length 37
      '01' + // type OPEN
      '04' + // version 4
      'fde9' + // My AS 65001
      '00b4' + // hold time 180
      '0a0a0c01' + // BGP identifier 10.10.12.1
      '08' + // optional parameters length 8
      '02' + '06' + // parameter: capabilities, 6 bytes
      '41' + '04' + '0000fde9', // capability 65 (four-octet AS), length 4, AS 65001
  );
  assert.deepEqual(decodeOpen(bytes), {
    type: 'open',
    version: 4,
    myAutonomousSystem: 65001,
    holdTimeSeconds: 180,
    bgpIdentifier: '10.10.12.1',
    capabilities: [{ kind: 'four-octet-as', asn: 65001 }],
  });
  assert.deepEqual(encodeOpen(decodeOpen(bytes)), bytes);
});

function openError(bytes: Uint8Array): BgpMessageError {
  try {
    decodeOpen(bytes);
  } catch (e) {
    if (e instanceof BgpMessageError) return e;
    throw e;
  }
  assert.fail('expected a BgpMessageError');
}

test('OPEN errors map to the RFC 4271 §6.2 NOTIFICATIONs', () => {
  const base = (version: string, hold: string, id: string, params: string): Uint8Array => {
    const body = version + 'fde9' + hold + id + params;
    return hex(MARKER + (19 + body.length / 2).toString(16).padStart(4, '0') + '01' + body);
  };
  let e = openError(base('03', '00b4', '0a0a0c01', '00')); // version 3
  assert.deepEqual([e.code, e.subcode, [...e.data]], [ErrorCode.openMessage, OpenErrorSubcode.unsupportedVersionNumber, [0, 4]]);
  e = openError(base('04', '0002', '0a0a0c01', '00')); // hold time 2 s
  assert.deepEqual([e.code, e.subcode], [ErrorCode.openMessage, OpenErrorSubcode.unacceptableHoldTime]);
  e = openError(base('04', '00b4', '00000000', '00')); // identifier 0.0.0.0
  assert.deepEqual([e.code, e.subcode], [ErrorCode.openMessage, OpenErrorSubcode.badBgpIdentifier]);
  e = openError(base('04', '00b4', '0a0a0c01', '03' + '01' + '01' + 'ff')); // parameter type 1 (authentication)
  assert.deepEqual([e.code, e.subcode], [ErrorCode.openMessage, OpenErrorSubcode.unsupportedOptionalParameter]);
  e = openError(base('04', '00b4', '0a0a0c01', '04' + '02' + '02' + '4103')); // four-octet AS cap of 3 bytes… truncated
  assert.equal(e.code, ErrorCode.openMessage);
  e = openError(base('04', '00b4', '0a0a0c01', '05')); // parameters length 5, nothing follows
  assert.equal(e.code, ErrorCode.openMessage);
  e = openError(hex(MARKER + '001c' + '01' + '04fde900b40a0a0c')); // 28 bytes: shorter than any OPEN
  assert.deepEqual([e.code, e.subcode, [...e.data]], [ErrorCode.messageHeader, HeaderErrorSubcode.badMessageLength, [0, 28]]);
  for (const err of [e]) assert.equal(err.treatment, 'session-reset');
});

test('hold time 0 is accepted (no keepalives), and an ASN above 65535 travels as AS_TRANS', () => {
  const bytes = encodeOpen({ myAutonomousSystem: twoOctetAsn(4200000001), holdTimeSeconds: 0, bgpIdentifier: '1.2.3.4', capabilities: [] });
  const open = decodeOpen(bytes);
  assert.equal(open.holdTimeSeconds, 0);
  assert.equal(open.myAutonomousSystem, AS_TRANS);
  assert.equal(senderAsn(open), AS_TRANS, 'without the capability the 2-octet field is all there is');
  assert.equal(twoOctetAsn(65001), 65001);
  assert.throws(() => encodeOpen({ myAutonomousSystem: 1, holdTimeSeconds: 0, bgpIdentifier: 'fd00::1', capabilities: [] }), { code: 'BGP_ENCODE_OUT_OF_RANGE' });
});
