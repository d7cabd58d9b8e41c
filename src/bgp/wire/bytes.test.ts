import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BgpMessageError, ErrorTreatment } from '../errors.ts';
import { ByteReader, ByteWriter } from './bytes.ts';

const short = (need: number, have: number): BgpMessageError =>
  new BgpMessageError(1, 2, new Uint8Array(0), ErrorTreatment.sessionReset, `need ${need} have ${have}`);

test('ByteReader reads from a Buffer that does not start at offset 0 of its ArrayBuffer', () => {
  const pool = Buffer.alloc(64, 0xee);
  pool.set([0x12, 0x34, 0x56, 0x78, 0x9a], 10);
  const slice = pool.subarray(10, 15);
  assert.notEqual(slice.byteOffset, 0);
  const r = new ByteReader(slice, short);
  assert.equal(r.u16(), 0x1234);
  assert.equal(r.u8(), 0x56);
  assert.equal(r.remaining, 2);
  // Only 2 bytes remain in the slice even though the pool goes on: the reader must not see them.
  assert.throws(() => r.u32(), (e: unknown) => e instanceof BgpMessageError && e.message === 'need 4 have 2');
  assert.deepEqual([...r.bytes(2)], [0x78, 0x9a]);
  assert.ok(r.atEnd);
  assert.throws(() => r.u8(), BgpMessageError);
});

test('ByteReader.sub confines reads and uses its own error', () => {
  const r = new ByteReader(Uint8Array.of(1, 2, 3, 4), short);
  const inner = r.sub(2, () => new BgpMessageError(3, 1, new Uint8Array(0), ErrorTreatment.treatAsWithdraw, 'inner'));
  assert.equal(inner.u16(), 0x0102);
  assert.throws(() => inner.u8(), { message: 'inner' });
  assert.equal(r.u16(), 0x0304);
  assert.throws(() => r.sub(1, short), { message: 'need 1 have 0' });
});

test('ByteWriter grows past its first buffer and patches nested lengths', () => {
  const w = new ByteWriter();
  w.u8(0xaa).lengthPrefixed16(() => {
    for (let i = 0; i < 300; i++) w.u8(i & 0xff);
    w.lengthPrefixed8(() => w.u32(0xdeadbeef));
  });
  const out = w.finish();
  assert.equal(out.length, 1 + 2 + 300 + 1 + 4);
  assert.equal((out[1]! << 8) | out[2]!, 305);
  assert.equal(out[303], 4);
  assert.deepEqual([...out.subarray(304)], [0xde, 0xad, 0xbe, 0xef]);
});

test('ByteWriter refuses values that do not fit their field', () => {
  const w = new ByteWriter();
  assert.throws(() => w.u8(256), { code: 'BGP_ENCODE_OUT_OF_RANGE' });
  assert.throws(() => w.u16(-1), { code: 'BGP_ENCODE_OUT_OF_RANGE' });
  assert.throws(() => w.u32(2 ** 32), { code: 'BGP_ENCODE_OUT_OF_RANGE' });
  assert.throws(() => w.lengthPrefixed8(() => w.bytes(new Uint8Array(256))), { code: 'BGP_ENCODE_OUT_OF_RANGE' });
});
