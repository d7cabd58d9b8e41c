import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BfdDiagnostic, BfdState } from './constants.ts';
import { BfdPacketError, BfdPacketErrorCode } from './errors.ts';
import { decodeControlPacket, encodeControlPacket, type BfdControlPacket } from './packet.ts';

const upPacket: BfdControlPacket = {
  diagnostic: BfdDiagnostic.none,
  state: BfdState.up,
  poll: false,
  final: false,
  controlPlaneIndependent: false,
  demand: false,
  detectMult: 3,
  myDiscriminator: 0x11223344,
  yourDiscriminator: 0x55667788,
  desiredMinTxUs: 300_000,
  requiredMinRxUs: 300_000,
  requiredMinEchoRxUs: 0,
};

/** An Up packet as the RFC 5880 §4.1 layout has it, field by field. */
const UP_FIXTURE = Uint8Array.from([
  0x20, // version 1, Diag 0
  0xc0, // State Up (3 << 6), no flags
  0x03, // Detect Mult 3
  0x18, // Length 24
  0x11, 0x22, 0x33, 0x44, // My Discriminator
  0x55, 0x66, 0x77, 0x88, // Your Discriminator
  0x00, 0x04, 0x93, 0xe0, // Desired Min TX 300,000 µs
  0x00, 0x04, 0x93, 0xe0, // Required Min RX 300,000 µs
  0x00, 0x00, 0x00, 0x00, // Required Min Echo RX 0
]);

test('an Up packet encodes to the RFC 5880 §4.1 layout and decodes back', () => {
  assert.deepEqual(encodeControlPacket(upPacket), UP_FIXTURE);
  assert.deepEqual(decodeControlPacket(UP_FIXTURE), upPacket);
});

test('flags and Diag are where the RFC puts them', () => {
  const bytes = encodeControlPacket({ ...upPacket, state: BfdState.down, diagnostic: BfdDiagnostic.controlDetectionTimeExpired, poll: true, controlPlaneIndependent: true });
  assert.equal(bytes[0], 0x21); // version 1, Diag 1
  assert.equal(bytes[1], 0x40 | 0x20 | 0x08); // Down, P, C
  assert.equal(encodeControlPacket({ ...upPacket, final: true, demand: true })[1], 0xc0 | 0x10 | 0x02);
});

test('a packet inside a pooled Buffer (non-zero byteOffset) decodes', () => {
  const pool = Buffer.alloc(100);
  pool.set(UP_FIXTURE, 37);
  assert.deepEqual(decodeControlPacket(pool.subarray(37, 37 + 24)), upPacket);
});

test('a longer UDP payload than Length is accepted (Length ≤ payload)', () => {
  const bytes = new Uint8Array(30);
  bytes.set(UP_FIXTURE);
  assert.deepEqual(decodeControlPacket(bytes), upPacket);
});

const rejected: readonly [string, (b: Uint8Array) => Uint8Array, BfdPacketErrorCode][] = [
  ['23 bytes', (b) => b.subarray(0, 23), BfdPacketErrorCode.truncated],
  ['version 0', (b) => ((b[0] = 0x00), b), BfdPacketErrorCode.badVersion],
  ['version 2', (b) => ((b[0] = 0x40), b), BfdPacketErrorCode.badVersion],
  ['Length 23', (b) => ((b[3] = 23), b), BfdPacketErrorCode.badLength],
  ['Length 25 > payload 24', (b) => ((b[3] = 25), b), BfdPacketErrorCode.badLength],
  ['A bit with Length 24', (b) => ((b[1] = 0xc4), b), BfdPacketErrorCode.badLength],
  ['Detect Mult 0', (b) => ((b[2] = 0), b), BfdPacketErrorCode.zeroDetectMult],
  ['M bit', (b) => ((b[1] = 0xc1), b), BfdPacketErrorCode.multipoint],
  ['My Discriminator 0', (b) => (b.fill(0, 4, 8), b), BfdPacketErrorCode.zeroMyDiscriminator],
  ['Your Discriminator 0 in Up', (b) => (b.fill(0, 8, 12), b), BfdPacketErrorCode.zeroYourDiscriminator],
  ['Your Discriminator 0 in Init', (b) => ((b[1] = 0x80), b.fill(0, 8, 12), b), BfdPacketErrorCode.zeroYourDiscriminator],
];

for (const [what, mutate, code] of rejected) {
  test(`§6.8.6 discards: ${what} → ${code}`, () => {
    assert.throws(() => decodeControlPacket(mutate(Uint8Array.from(UP_FIXTURE))), (e: unknown) => e instanceof BfdPacketError && e.code === code);
  });
}

test('§6.8.6: A bit with an Authentication Section is refused (no auth configured)', () => {
  const bytes = new Uint8Array(28);
  bytes.set(UP_FIXTURE);
  bytes[1] = 0xc4;
  bytes[3] = 28;
  assert.throws(() => decodeControlPacket(bytes), (e: unknown) => e instanceof BfdPacketError && e.code === BfdPacketErrorCode.authenticationUnsupported);
});

test('Your Discriminator 0 is fine in Down (the first packets of a session)', () => {
  const bytes = Uint8Array.from(UP_FIXTURE);
  bytes[1] = 0x40;
  bytes.fill(0, 8, 12);
  assert.equal(decodeControlPacket(bytes).state, BfdState.down);
});

test('property: every valid packet round-trips', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const packet = fc.record({
    diagnostic: fc.constantFrom(...Object.values(BfdDiagnostic)),
    state: fc.constantFrom(...Object.values(BfdState)),
    poll: fc.boolean(),
    final: fc.boolean(),
    controlPlaneIndependent: fc.boolean(),
    demand: fc.boolean(),
    detectMult: fc.integer({ min: 1, max: 255 }),
    myDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
    yourDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
    desiredMinTxUs: u32,
    requiredMinRxUs: u32,
    requiredMinEchoRxUs: u32,
  });
  fc.assert(fc.property(packet, (p) => {
    assert.deepEqual(decodeControlPacket(encodeControlPacket(p)), { ...p });
  }));
});

test('property: any bytes decode or fail with a BfdPacketError, never anything else', () => {
  const nearValid = fc.tuple(fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 255 })).map(([noise, at, value]) => {
    const b = Uint8Array.from(UP_FIXTURE);
    b[at] = value;
    return noise[0]! % 2 === 0 ? b : noise;
  });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), nearValid), (bytes) => {
      try {
        decodeControlPacket(bytes);
      } catch (e) {
        assert.ok(e instanceof BfdPacketError, `threw ${String(e)}`);
      }
    }),
    { numRuns: 2000 },
  );
});
