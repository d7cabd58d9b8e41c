import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Cidr } from '../../net/index.ts';
import { BgpMessageError } from '../errors.ts';
import { BIRD_CAPTURE, hex } from './bird-capture.fixture.ts';
import { MessageFramer } from './header.ts';
import { decodeMessage } from './message.ts';
import { encodeNotification, encodeRouteRefresh } from './notification.ts';
import { encodeOpen } from './open.ts';
import { asSequence, decodeUpdate, encodeUpdate } from './update.ts';

const ctxArb = fc.record({ fourOctetAs: fc.boolean(), external: fc.boolean() });

/** Decoding yields a message or a BgpMessageError; anything else fails the property. */
function decodesOrProtocolError(bytes: Uint8Array, ctx: { fourOctetAs: boolean; external: boolean }): void {
  try {
    decodeMessage(bytes, ctx);
  } catch (e) {
    if (!(e instanceof BgpMessageError)) throw e;
  }
}

const seeds: Uint8Array[] = [
  ...Object.values(BIRD_CAPTURE).map(hex),
  encodeNotification({ code: 6, subcode: 2, shutdownMessage: 'bye' }),
  encodeRouteRefresh({ afi: 1, safi: 1 }),
  encodeOpen({ myAutonomousSystem: 65002, holdTimeSeconds: 90, bgpIdentifier: '1.2.3.4', capabilities: [{ kind: 'graceful-restart', restarting: true, notification: true, restartTimeSeconds: 60, families: [{ afi: 1, safi: 1, forwardingPreserved: false }] }] }),
  encodeUpdate(
    {
      withdrawn: [{ family: 4, network: 0x0ac80006n, prefixLength: 32 }],
      attributes: { origin: 0, asPath: asSequence(65002, 4200000001), nextHop: { family: 4, value: 0x0a0a0c02n }, multiExitDisc: 1, localPref: 2, communities: [1], largeCommunities: [{ globalAdministrator: 1, localData1: 2, localData2: 3 }] },
      nlri: [{ family: 4, network: 0x0ac80005n, prefixLength: 32 }],
    },
    { fourOctetAs: false },
  ),
];

test('property: random bodies behind a valid header only ever decode or raise BgpMessageError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.uint8Array({ maxLength: 200 }), ctxArb, (type, body, ctx) => {
      const length = 19 + body.length;
      const bytes = new Uint8Array([...new Uint8Array(16).fill(0xff), length >> 8, length & 0xff, type, ...body]);
      decodesOrProtocolError(bytes, ctx);
    }),
    { numRuns: 3000 },
  );
});

test('property: mutated and truncated valid messages only ever decode or raise BgpMessageError', () => {
  const mutation = fc.record({
    seed: fc.constantFrom(...seeds),
    edits: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 6 }),
    cut: fc.option(fc.nat()),
    fixLength: fc.boolean(),
  });
  fc.assert(
    fc.property(mutation, ctxArb, ({ seed, edits, cut, fixLength }, ctx) => {
      let bytes = seed.slice();
      // Edits past the header mostly, so that the body decoders (not just the header check) run.
      for (const [at, value] of edits) bytes[19 + (at % Math.max(1, bytes.length - 19))] = value;
      if (cut !== null) bytes = bytes.slice(0, cut % (bytes.length + 1));
      if (fixLength && bytes.length >= 19) {
        bytes[16] = bytes.length >> 8;
        bytes[17] = bytes.length & 0xff;
      }
      decodesOrProtocolError(bytes, ctx);
    }),
    { numRuns: 5000 },
  );
});

test('property: the framer, fed any chunks, returns whole messages or raises BgpMessageError', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...seeds)), { maxLength: 20 }), (chunks) => {
      const framer = new MessageFramer();
      try {
        for (const chunk of chunks) {
          for (const m of framer.push(chunk)) assert.equal((m[16]! << 8) | m[17]!, m.length);
        }
      } catch (e) {
        if (!(e instanceof BgpMessageError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});

const v4Prefix: fc.Arbitrary<Cidr> = fc.integer({ min: 0, max: 32 }).chain((prefixLength) =>
  fc.nat({ max: 0xffffffff }).map((n) => {
    const host = 32 - prefixLength;
    return { family: 4 as const, network: (BigInt(n) >> BigInt(host)) << BigInt(host), prefixLength };
  }),
);

test('property: UPDATEs with any IPv4 prefixes and attributes round trip', () => {
  fc.assert(
    fc.property(
      fc.array(v4Prefix, { maxLength: 40 }),
      fc.array(v4Prefix, { maxLength: 40 }),
      fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 5 }),
      fc.option(fc.nat({ max: 0xffffffff }), { nil: undefined }),
      fc.boolean(),
      (nlri, withdrawn, communities, med, fourOctetAs) => {
        const attributes = {
          origin: 0 as const,
          asPath: asSequence(65002),
          nextHop: { family: 4 as const, value: 0x0a0a0c02n },
          ...(med === undefined ? {} : { multiExitDisc: med }),
          ...(communities.length > 0 ? { communities } : {}),
        };
        const decoded = decodeUpdate(encodeUpdate({ withdrawn, attributes, nlri }, { fourOctetAs }), { fourOctetAs });
        assert.deepEqual(decoded, { type: 'update', withdrawn, attributes, nlri, problems: [] });
      },
    ),
    { numRuns: 500 },
  );
});
