import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { SetName } from '../render.ts';
import { HOST_LE, MalformedReply } from './attrs.ts';
import { ElementDecoder } from './decode.ts';
import { SET_LAYOUTS } from './elements.ts';
import { opOf } from '../testdata/elements.ts';
import { MAX_ELEMENT_BYTES, decodeReplies, elementAt, encodeBatch, encodeGetElements, estimateBytes, type ElementBatchOp, type ReplyEvent } from './messages.ts';

const skip = !HOST_LE && 'netlink headers in these fixtures are little-endian host order';
const bytes = (...parts: string[]): string => parts.join('').replace(/\s+/g, '');
const enc = (set: SetName, verb: 'add' | 'delete', texts: string[]): ElementBatchOp => opOf(verb, set, texts);

test('an add message has the bytes nft 1.0.6 sends, with an ACK asked for', { skip }, () => {
  // From `nft --debug=mnl -f` for `add element inet vipgate backends4tcp { 10.200.0.5 . tcp .
  // 80 . 3 : 10.100.1.41 . 8080 }`, less libnftnl's NFTA_SET_ELEM_LIST_SET_ID (an id for a set
  // declared in the same batch; the set here exists and is named) and with NLM_F_ACK added.
  const batch = encodeBatch([enc('backends4tcp', 'add', ['10.200.0.5 . tcp . 80 . 3 : 10.100.1.41 . 8080'])], 7);
  assert.equal(
    batch.bytes.toString('hex'),
    bytes(
      '14000000 1000 0100 07000000 00000000 00 00 000a', // BATCH_BEGIN, seq 7, res_id NFNL_SUBSYS_NFTABLES
      '64000000 0c0a 0500 08000000 00000000 01 00 0000', // 100 bytes, NEWSETELEM, REQUEST|ACK, seq 8, inet
      '0c00 0100 76697067 61746500', //                     NFTA_SET_ELEM_LIST_TABLE "vipgate"
      '1100 0200 6261636b 656e6473 34746370 00000000', //   NFTA_SET_ELEM_LIST_SET "backends4tcp"
      '3000 0380', //                                       NFTA_SET_ELEM_LIST_ELEMENTS (nested)
      '2c00 0180', //                                         NFTA_LIST_ELEM
      '1800 0180 1400 0100 0ac80005 06000000 00500000 03000000', // KEY: VALUE 10.200.0.5 . tcp . 80 . slot 3 (host order)
      '1000 0280 0c00 0100 0a640129 1f900000', //                   DATA: VALUE 10.100.1.41 . 8080
      '14000000 1100 0100 09000000 00000000 00 00 000a', // BATCH_END, seq 9
    ),
  );
  assert.deepEqual(
    batch.messages.map((m) => [m.seq, m.op, m.elementOffsets]),
    [[8, 0, [56]]],
  );
});

test('a flush is a DELSETELEM without elements, as nft sends it', { skip }, () => {
  // `flush set inet vipgate deny6` in `nft --debug=mnl`: SET before TABLE, no element list.
  const batch = encodeBatch([{ verb: 'flush', set: 'deny6' }], 1);
  assert.equal(
    batch.bytes.subarray(20, batch.bytes.length - 20).toString('hex'),
    bytes('2c000000 0e0a 0500 02000000 00000000 01 00 0000', '0a00 0200 64656e79 36000000', '0c00 0100 76697067 61746500'),
  );
});

test('empty ops send no message, and a batch of nothing has no messages to answer', () => {
  assert.deepEqual(encodeBatch([{ verb: 'add', set: 'masq4', elements: [] }], 1).messages, []);
});

/** The elements of every NEWSETELEM message in a batch, decoded back to text. */
function elementsOfBatch(set: SetName, b: Buffer): { perMessage: number[]; texts: string[] } {
  const decoder = new ElementDecoder();
  const perMessage: number[] = [];
  const texts: string[] = [];
  for (const e of decodeReplies(b)) {
    if (e.kind !== 'elements') continue;
    perMessage.push(e.elements.length);
    for (const x of e.elements) texts.push(decoder.one(set, SET_LAYOUTS[set], x));
  }
  return { perMessage, texts };
}

test('a large op is split over messages of at most 64 KB of elements, all in one batch, in order', () => {
  const texts = Array.from({ length: 3000 }, (_, i) => `fd00:200::${((i >> 8) + 1).toString(16)} . tcp . 80 . ${i & 255} : fd00:100::${((i % 97) + 1).toString(16)} . 8080`);
  const batch = encodeBatch([enc('backends6tcp', 'add', texts)], 1);
  const { perMessage, texts: back } = elementsOfBatch('backends6tcp', batch.bytes);
  assert.ok(perMessage.length >= 4, `${perMessage.length} messages for ~200 KB of elements`);
  assert.deepEqual(back, texts);
  assert.deepEqual(batch.messages.flatMap((m) => m.sources), texts.map((_, i) => i));
  // Every message fits its 16-bit element-list attribute (header, table, set, list).
  const lengths: number[] = [];
  for (let at = 0; at < batch.bytes.length; at += batch.bytes.readUInt32LE(at)) lengths.push(batch.bytes.readUInt32LE(at));
  assert.equal(lengths.length, perMessage.length + 2, 'BATCH_BEGIN, the messages, BATCH_END');
  for (const n of lengths) assert.ok(n <= 20 + 12 + 20 + 4 + MAX_ELEMENT_BYTES, `a message of ${n} bytes`);
  assert.ok(lengths.slice(1, -2).every((n) => n > 60000), 'messages are filled before a new one starts');
  // Consecutive sequence numbers: begin, messages, end.
  assert.deepEqual([batch.beginSeq, ...batch.messages.map((m) => m.seq), batch.endSeq], Array.from({ length: perMessage.length + 2 }, (_, i) => i + 1));
});

test('the batch buffer is sized up front for what is written into it', () => {
  const vips = Array.from({ length: 500 }, (_, i) => `10.200.${i >> 8}.${i & 255} . tcp . 80`);
  const ops: ElementBatchOp[] = [
    enc('backends4tcp', 'add', vips.flatMap((v) => [0, 1, 2].map((s) => `${v} . ${s} : 10.100.0.${s + 1} . 8080`))),
    enc('backends6udp', 'delete', ['fd00::1 . udp . 53 . 0']),
    enc('frontends4', 'add', vips.map((v) => `${v} : goto pick4_tcp_random_3`)),
    enc('frontends6', 'delete', ['fd00::1 . udp . 53']),
    enc('allow6', 'add', ['fd00::1 . udp . 53 . fd00::/8', 'fd00::1 . udp . 53 . ::1']),
    { verb: 'flush', set: 'deny4' },
    enc('deny4', 'add', ['10.0.0.0/8', '192.168.1.1', '255.255.255.0/24']),
    enc('counters4', 'add', vips),
  ];
  const written = encodeBatch(ops, 1).bytes.length;
  const estimate = estimateBytes(ops);
  assert.ok(estimate >= written, `estimated ${estimate} bytes for ${written}`);
  assert.ok(estimate < written * 1.5, `estimated ${estimate} bytes for ${written}: too much memory held`);
});

test('the error the kernel sends for a refused element names it by offset', { skip }, () => {
  // Captured on kernel 6.18 (NETLINK_CAP_ACK and NETLINK_EXT_ACK on) for the batch
  // add masq4 { 10.200.0.9 . tcp . 80 }; delete masq4 { 10.200.0.9 . tcp . 80, 10.200.0.7 . tcp . 81 }
  // sent with first seq 100: an ACK for seq 101, then ENOENT for seq 102 with
  // NLMSGERR_ATTR_OFFS 0x48, the second element of that message (the first was added before).
  const ack = Buffer.from('2400000002000001650000009a5a000000000000480000000c0a05006500000000000000', 'hex');
  const enoent = Buffer.from('2c00000002000003660000009a5a0000feffffff600000000e0a050066000000000000000800020048000000', 'hex');
  assert.deepEqual(decodeReplies(ack), [{ kind: 'reply', reply: { seq: 101, errno: 0 } }]);
  assert.deepEqual(decodeReplies(enoent), [{ kind: 'reply', reply: { seq: 102, errno: 2, offset: 0x48 } }]);
  const batch = encodeBatch([enc('masq4', 'add', ['10.200.0.9 . tcp . 80']), enc('masq4', 'delete', ['10.200.0.9 . tcp . 80', '10.200.0.7 . tcp . 81'])], 100);
  const info = batch.messages.find((m) => m.seq === 102)!;
  assert.equal(elementAt(info, 0x48), 1);
  assert.equal(elementAt(info, 0x30), 0);
  assert.equal(elementAt(info, 12), undefined, 'an offset before the elements names none');
  assert.equal(elementAt(info, undefined), undefined);
});

test('a dump reply with per-element counters decodes to texts and counts', { skip }, () => {
  // Captured on kernel 6.18: GETSETELEM counters4 after two UDP datagrams to 10.200.0.5:53
  // (the counter expression comes as NFTA_SET_ELEM_EXPR; the set-level `counter` was cloned
  // into elements added without one), then the closing empty message and NLMSG_DONE.
  const first = Buffer.from(
    'bc0000000c0a02000700000076520000010000180c00010076697067617465000e000200636f756e74657273340000008c0003004400010014000100100001000ac8000511000000003500002c0007000c000100636f756e746572001c0002000c000100000000000000007c0c00020000000000000000044400010014000100100001000ac8000506000000005000002c0007000c000100636f756e746572001c0002000c00010000000000000000000c0002000000000000000000',
    'hex',
  );
  const last = Buffer.from('340000000c0a02000700000076520000010000180c00010076697067617465000e000200636f756e7465727334000000040003001400000003000200070000007652000000000000', 'hex');
  const events: ReplyEvent[] = [...decodeReplies(first), ...decodeReplies(last)];
  const decoder = new ElementDecoder();
  const seen = events.flatMap((e) => (e.kind === 'elements' ? e.elements.map((x) => [decoder.one('counters4', SET_LAYOUTS.counters4, x), x.counter]) : []));
  assert.deepEqual(seen, [
    ['10.200.0.5 . udp . 53', { packets: 4n, bytes: 124n }],
    ['10.200.0.5 . tcp . 80', { packets: 0n, bytes: 0n }],
  ]);
  assert.deepEqual(events.at(-1), { kind: 'done', seq: 7, interrupted: false });
  assert.ok(events.every((e) => e.kind !== 'elements' || e.set === 'counters4'));
});

test('the dump request names table and set, with NLM_F_DUMP', { skip }, () => {
  assert.equal(
    encodeGetElements('deny4', 3).toString('hex'),
    bytes('2c000000 0d0a 0103 03000000 00000000 01 00 0000', '0c00 0100 76697067 61746500', '0a00 0200 64656e79 34000000'),
  );
});

test('cut or corrupted replies give MalformedReply, never another error', () => {
  const sample = Buffer.concat([
    encodeBatch([enc('allow6', 'add', ['fd00::5 . tcp . 80 . 2001:db8::/32']), enc('frontends4', 'add', ['10.0.0.1 . udp . 53 : goto pick4_udp_hash_3'])], 1).bytes,
    Buffer.from('2c00000002000003660000009a5a0000feffffff600000000e0a050066000000000000000800020048000000', 'hex'),
  ]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: sample.length }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (cut, flips) => {
      const b = Buffer.from(sample.subarray(0, cut));
      for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
      try {
        decodeReplies(b);
      } catch (error) {
        assert.ok(error instanceof MalformedReply, String(error));
      }
    }),
    { numRuns: 2000 },
  );
});
