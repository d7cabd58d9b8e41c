import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeGeneration, encodeGetGeneration } from './generation.ts';

const LE = endianness() === 'LE';
const h32 = (v: number): number[] => (LE ? [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24] : [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
const h16 = (v: number): number[] => (LE ? [v & 255, v >>> 8] : [v >>> 8, v & 255]);

/** A NEWGEN reply as the kernel sends it (nf_tables_fill_gen_info), fields annotated. */
function newGen(seq: number, id: number): Buffer {
  return Buffer.from([
    ...h32(48), //                 nlmsg_len: 16 header + 4 nfgenmsg + 8 + 8 + 12
    ...h16((10 << 8) | 15), //     NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN
    ...h16(0), //                  flags
    ...h32(seq), //                nlmsg_seq
    ...h32(4242), //               nlmsg_pid
    0, 0, 0x00, 0x2a, //           nfgenmsg: AF_UNSPEC, version 0, res_id (BE) = base_seq & 0xffff
    ...h16(8), ...h16(1), //       NFTA_GEN_ID, length 8
    (id >>> 24) & 255, (id >>> 16) & 255, (id >>> 8) & 255, id & 255, // big-endian
    ...h16(8), ...h16(2), //       NFTA_GEN_PROC_PID
    0, 0, 0x10, 0x92,
    ...h16(11), ...h16(3), //      NFTA_GEN_PROC_NAME "node\0" + padding to 4
    0x6e, 0x6f, 0x64, 0x65, 0x00, 0, 0, 0,
  ]);
}

test('the GETGEN request is a 20-byte nfnetlink message for the nftables subsystem', () => {
  const b = encodeGetGeneration(7);
  assert.deepEqual([...b], [...h32(20), ...h16((10 << 8) | 16), ...h16(1), ...h32(7), ...h32(0), 0, 0, 0, 0]);
});

test('the generation is read from the NEWGEN reply to our request, big-endian', () => {
  assert.equal(decodeGeneration(newGen(7, 0x01020304), 7), 0x01020304);
  assert.equal(decodeGeneration(newGen(8, 99), 7), undefined, 'a reply to another request');
});

test('an error reply or a cut-short reply gives undefined, not a wrong number', () => {
  const error = Buffer.from([...h32(36), ...h16(2), ...h16(0), ...h32(7), ...h32(0), ...h32(-1 >>> 0), ...h32(20), ...h16(0), ...h16(1), ...h32(7), ...h32(0)]);
  assert.equal(decodeGeneration(error, 7), undefined);
  const whole = newGen(7, 12345);
  for (let cut = 0; cut < 28; cut++) assert.equal(decodeGeneration(whole.subarray(0, cut), 7), undefined, `cut at ${cut}`);
});

test('any bytes at all decode to a number or undefined, never an exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, seq) => {
      const r = decodeGeneration(Buffer.from(bytes), seq);
      assert.ok(r === undefined || (Number.isInteger(r) && r >= 0));
    }),
  );
});
