import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCidr } from '../../net/index.ts';
import { BgpMessageError } from '../errors.ts';
import { hex } from './bird-capture.fixture.ts';
import { ErrorCode, HeaderErrorSubcode, MAX_MESSAGE_LENGTH } from './constants.ts';
import { MessageFramer, decodeHeader } from './header.ts';
import { encodeKeepalive } from './notification.ts';
import { encodeUpdate } from './update.ts';

const MARKER = 'ff'.repeat(16);

function headerError(bytes: Uint8Array): BgpMessageError {
  try {
    decodeHeader(bytes);
  } catch (e) {
    if (e instanceof BgpMessageError) return e;
    throw e;
  }
  assert.fail('expected a header error');
}

test('header errors (RFC 4271 §6.1) carry the right subcode and data', () => {
  let e = headerError(hex('fe' + 'ff'.repeat(15) + '0013' + '04'));
  assert.deepEqual([e.code, e.subcode], [ErrorCode.messageHeader, HeaderErrorSubcode.connectionNotSynchronized]);
  e = headerError(hex(MARKER + '1001' + '02')); // 4097 bytes
  assert.deepEqual([e.subcode, [...e.data]], [HeaderErrorSubcode.badMessageLength, [0x10, 0x01]]);
  e = headerError(hex(MARKER + '0012' + '04')); // 18 bytes
  assert.equal(e.subcode, HeaderErrorSubcode.badMessageLength);
  e = headerError(hex(MARKER + '0013' + '07')); // type 7
  assert.deepEqual([e.subcode, [...e.data]], [HeaderErrorSubcode.badMessageType, [7]]);
  e = headerError(hex(MARKER + '0013' + '02')); // UPDATE of 19 bytes (min 23)
  assert.equal(e.subcode, HeaderErrorSubcode.badMessageLength);
});

test('the framer reassembles messages split at every byte and joined in one chunk', () => {
  const update = encodeUpdate({ withdrawn: [parseCidr('10.200.0.5/32')] }, { fourOctetAs: true });
  const stream = new Uint8Array([...encodeKeepalive(), ...update, ...encodeKeepalive()]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const framer = new MessageFramer();
    const got = [...framer.push(stream.subarray(0, cut)), ...framer.push(stream.subarray(cut))];
    assert.equal(got.length, 3, `cut at ${cut}`);
    assert.deepEqual(got[1], update);
    assert.equal(framer.buffered, 0);
  }
  const byteByByte = new MessageFramer();
  let count = 0;
  for (const b of stream) count += byteByByte.push(Uint8Array.of(b)).length;
  assert.equal(count, 3);
});

test('the framer holds a partial message and rejects a bad header as soon as it is complete', () => {
  const framer = new MessageFramer();
  assert.deepEqual(framer.push(hex(MARKER + '00')), []);
  assert.equal(framer.buffered, 17);
  assert.throws(() => framer.push(hex('0a' + '04')), { subcode: HeaderErrorSubcode.badMessageLength }); // length 10
  assert.throws(() => new MessageFramer().push(hex('00'.repeat(19))), { subcode: HeaderErrorSubcode.connectionNotSynchronized });
  const big = new MessageFramer();
  assert.deepEqual(big.push(hex(MARKER + (MAX_MESSAGE_LENGTH).toString(16).padStart(4, '0') + '02')), []);
});
