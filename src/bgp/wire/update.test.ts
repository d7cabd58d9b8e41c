import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCidr, parseIp } from '../../net/index.ts';
import { BgpMessageError } from '../errors.ts';
import { hex } from './bird-capture.fixture.ts';
import { AS_TRANS, AttrFlag, ErrorCode, Origin, UpdateErrorSubcode } from './constants.ts';
import { community } from './attributes.ts';
import { asSequence, decodeUpdate, encodeUpdate, isEndOfRib, isTreatAsWithdraw, type UpdateMessage } from './update.ts';

const MARKER = 'ff'.repeat(16);
const four = { fourOctetAs: true };
const two = { fourOctetAs: false };

/** Wraps annotated body hex into a whole UPDATE. */
function update(body: string): Uint8Array {
  const clean = body.replace(/[^0-9a-f]/gi, '');
  return hex(MARKER + (19 + clean.length / 2).toString(16).padStart(4, '0') + '02' + clean);
}

/** An UPDATE for 10.200.0.5/32 whose path attributes are `attrs` plus the mandatory ones. */
function withAttribute(attrs: string, mandatory = true): Uint8Array {
  const base = mandatory ? '40010100' + '400206020100' + '00fdea' + '4003040a0a0c02' : '';
  const all = (base + attrs).replace(/[^0-9a-f]/gi, '');
  return update('0000' + (all.length / 2).toString(16).padStart(4, '0') + all + '200ac80005');
}

test('UPDATE round trip: IPv4 NLRI + withdrawn, IPv6 MP_REACH/MP_UNREACH, every attribute', () => {
  const msg: Omit<UpdateMessage, 'type' | 'problems'> = {
    withdrawn: [parseCidr('10.200.0.6/32'), parseCidr('10.201.0.0/16')],
    attributes: {
      origin: Origin.igp,
      asPath: asSequence(65002, 4200000001),
      nextHop: parseIp('10.10.12.2'),
      multiExitDisc: 50,
      localPref: 200,
      atomicAggregate: true,
      communities: [community(65002, 100), 0xffffff01],
      largeCommunities: [{ globalAdministrator: 4200000001, localData1: 1, localData2: 2 }],
      mpReach: { afi: 2, safi: 1, nextHops: [parseIp('fd00:12::2'), parseIp('fe80::1')], nlri: [parseCidr('fd00:200::5/128'), parseCidr('fd00:300::/48')] },
      mpUnreach: { afi: 2, safi: 1, withdrawn: [parseCidr('fd00:200::6/128')] },
      raw: [{ flags: AttrFlag.optional | AttrFlag.transitive | AttrFlag.partial, typeCode: 99, value: Uint8Array.of(1, 2, 3) }],
    },
    nlri: [parseCidr('10.200.0.5/32'), parseCidr('0.0.0.0/0'), parseCidr('10.128.0.0/9')],
  };
  const decoded = decodeUpdate(encodeUpdate(msg, four), four);
  assert.deepEqual(decoded, { type: 'update', problems: [], ...msg });
});

test('UPDATE hex fixture, field by field (2-octet AS session)', () => {
  const bytes = update(
    '0000' + // withdrawn routes length 0
      '001b' + // total path attribute length 27
      '40 01 01 00' + // ORIGIN (well-known transitive), len 1, IGP
      '40 02 06 02 02 fdea 5ba0' + // AS_PATH, len 6, AS_SEQUENCE of 2: 65002 23456 (AS_TRANS)
      '40 03 04 0a0a0c02' + // NEXT_HOP 10.10.12.2
      'c0 08 04 fdea0064' + // COMMUNITIES (optional transitive) 65002:100
      '20 0ac80005' + // NLRI 10.200.0.5/32
      '18 0ac801', // NLRI 10.200.1.0/24
  );
  const u = decodeUpdate(bytes, two);
  assert.deepEqual(u.problems, []);
  assert.equal(u.attributes.origin, Origin.igp);
  assert.deepEqual(u.attributes.asPath, asSequence(65002, AS_TRANS));
  assert.deepEqual(u.attributes.nextHop, parseIp('10.10.12.2'));
  assert.deepEqual(u.attributes.communities, [community(65002, 100)]);
  assert.deepEqual(u.nlri, [parseCidr('10.200.0.5/32'), parseCidr('10.200.1.0/24')]);
  assert.deepEqual(encodeUpdate(u, two), bytes);
});

test('a 4-octet ASN sent to a 2-octet peer becomes AS_TRANS plus AS4_PATH (RFC 6793 §4.2.2)', () => {
  const bytes = encodeUpdate({ attributes: { origin: 0, asPath: asSequence(4200000001), nextHop: parseIp('10.0.0.1') }, nlri: [parseCidr('10.200.0.5/32')] }, two);
  const seenByOldSpeaker = decodeUpdate(bytes, two);
  assert.deepEqual(seenByOldSpeaker.attributes.asPath, asSequence(AS_TRANS));
  assert.deepEqual(seenByOldSpeaker.attributes.as4Path, asSequence(4200000001));
  // Between 4-octet speakers no AS4_PATH is sent.
  assert.equal(decodeUpdate(encodeUpdate({ attributes: { asPath: asSequence(4200000001) } }, four), four).attributes.as4Path, undefined);
});

test('End-of-RIB markers (RFC 4724 §2)', () => {
  assert.ok(isEndOfRib(decodeUpdate(encodeUpdate({}, four), four)));
  assert.ok(isEndOfRib(decodeUpdate(encodeUpdate({ attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn: [] } } }, four), four)));
  assert.ok(!isEndOfRib(decodeUpdate(encodeUpdate({ withdrawn: [parseCidr('10.0.0.0/8')] }, four), four)));
});

test('a long attribute uses the extended length form', () => {
  const communities = Array.from({ length: 100 }, (_, i) => i);
  const bytes = encodeUpdate({ attributes: { communities } }, four);
  // withdrawn len (2) + total attr len (2), then flags: optional|transitive|extended.
  assert.equal(bytes[19 + 4], 0xd0);
  assert.deepEqual(decodeUpdate(bytes, four).attributes.communities, communities);
});

function fatal(bytes: Uint8Array, ctx = four): BgpMessageError {
  try {
    decodeUpdate(bytes, ctx);
  } catch (e) {
    if (e instanceof BgpMessageError) return e;
    throw e;
  }
  assert.fail('expected a session-reset error');
}

test('RFC 7606: errors that withdraw the routes but keep the session', () => {
  const cases: [string, string, number][] = [
    ['ORIGIN value 3', '40 01 01 03', UpdateErrorSubcode.invalidOriginAttribute],
    ['ORIGIN of 2 bytes', '40 01 02 0000', UpdateErrorSubcode.attributeLengthError],
    ['AS_PATH segment type 5', '40 02 06 05 01 0000fdea', UpdateErrorSubcode.malformedAsPath],
    ['AS_PATH segment overruns', '40 02 06 02 02 0000fdea', UpdateErrorSubcode.malformedAsPath],
    ['NEXT_HOP of 3 bytes', '40 03 03 0a0a0c', UpdateErrorSubcode.attributeLengthError],
    ['NEXT_HOP 0.0.0.0', '40 03 04 00000000', UpdateErrorSubcode.invalidNextHopAttribute],
    ['MED of 2 bytes', '80 04 02 0001', UpdateErrorSubcode.attributeLengthError],
    ['COMMUNITIES of 5 bytes', 'c0 08 05 0000000001', UpdateErrorSubcode.optionalAttributeError],
    ['LARGE_COMMUNITY of 8 bytes', 'c0 20 08 0000000100000002', UpdateErrorSubcode.optionalAttributeError],
    ['ORIGIN marked optional', 'c0 01 01 00', UpdateErrorSubcode.attributeFlagsError],
    ['attribute overruns the list', 'c0 08 ff 00000001', UpdateErrorSubcode.attributeLengthError],
  ];
  for (const [what, attr, subcode] of cases) {
    // The malformed attribute comes first so that it is the one seen (later duplicates are dropped).
    const u = decodeUpdate(withAttribute(attr + '40010100' + '40020602010000fdea' + '4003040a0a0c02', false), four);
    assert.ok(isTreatAsWithdraw(u), what);
    assert.equal(u.problems[0]?.subcode, subcode, what);
    assert.equal(u.problems[0].code, ErrorCode.updateMessage, what);
    assert.deepEqual(u.nlri, [parseCidr('10.200.0.5/32')], `${what}: the NLRI is still known, to be withdrawn`);
  }
});

test('RFC 7606: a missing mandatory attribute withdraws; a bad ATOMIC_AGGREGATE is only discarded', () => {
  const missing = decodeUpdate(withAttribute('40010100' + '40020602010000fdea', false), four);
  assert.ok(isTreatAsWithdraw(missing));
  assert.equal(missing.problems[0]?.subcode, UpdateErrorSubcode.missingWellKnownAttribute);
  assert.deepEqual([...missing.problems[0].data], [3], 'the data names NEXT_HOP');
  const discard = decodeUpdate(withAttribute('40 06 01 00'), four);
  assert.ok(!isTreatAsWithdraw(discard));
  assert.equal(discard.problems[0]?.treatment, 'attribute-discard');
  assert.equal(discard.attributes.atomicAggregate, undefined);
  assert.equal(discard.attributes.origin, Origin.igp);
});

test('unknown attributes: optional transitive kept with Partial, non-transitive dropped, well-known fatal', () => {
  const u = decodeUpdate(withAttribute('c0 63 02 abcd' + '80 64 01 ff'), four);
  assert.deepEqual(u.attributes.raw, [{ flags: 0xe0, typeCode: 99, value: Uint8Array.of(0xab, 0xcd) }]);
  assert.deepEqual(u.problems, []);
  const e = fatal(withAttribute('40 63 01 00'));
  assert.deepEqual([e.code, e.subcode, e.treatment], [ErrorCode.updateMessage, UpdateErrorSubcode.unrecognizedWellKnownAttribute, 'session-reset']);
  assert.deepEqual([...e.data], [0x40, 0x63, 0x01, 0x00], 'the data is the offending attribute');
});

test('session-reset errors: bad lengths, bad NLRI, broken or repeated MP attributes', () => {
  let e = fatal(update('00ff' + '0000')); // withdrawn routes length 255, nothing follows
  assert.deepEqual([e.subcode, e.treatment], [UpdateErrorSubcode.malformedAttributeList, 'session-reset']);
  e = fatal(update('0000' + '00ff')); // total path attribute length 255, nothing follows
  assert.equal(e.subcode, UpdateErrorSubcode.malformedAttributeList);
  e = fatal(update('0000' + '0000' + '21 0ac8000500')); // NLRI /33
  assert.equal(e.subcode, UpdateErrorSubcode.invalidNetworkField);
  e = fatal(update('0000' + '0000' + '20 0ac8')); // NLRI /32 with only 2 bytes
  assert.equal(e.subcode, UpdateErrorSubcode.invalidNetworkField);
  e = fatal(update('0002' + '2001' + '0000')); // withdrawn /32 truncated
  assert.equal(e.subcode, UpdateErrorSubcode.invalidNetworkField);
  e = fatal(withAttribute('80 0e 15 0002 01 0f' + 'fd000012000000000000000000000001' + '00')); // IPv6 next hop of 15 bytes
  assert.deepEqual([e.subcode, e.treatment], [UpdateErrorSubcode.optionalAttributeError, 'session-reset']);
  e = fatal(withAttribute('80 0f 03 000201' + '80 0f 03 000201')); // MP_UNREACH twice
  assert.equal(e.subcode, UpdateErrorSubcode.malformedAttributeList);
  e = fatal(withAttribute('c0 0e 03 000201')); // MP_UNREACH marked transitive
  assert.equal(e.subcode, UpdateErrorSubcode.attributeFlagsError);
});

test('LOCAL_PREF from an eBGP peer is ignored (RFC 7606 §7.5)', () => {
  const bytes = withAttribute('40 05 04 00000064');
  assert.equal(decodeUpdate(bytes, four).attributes.localPref, 100);
  assert.equal(decodeUpdate(bytes, { fourOctetAs: true, external: true }).attributes.localPref, undefined);
});

test('an attribute list ending in 1 or 2 stray bytes is treat-as-withdraw, not a session reset (RFC 7606 §4)', () => {
  for (const stray of ['40', '40 01']) {
    const bytes = withAttribute(stray);
    const u = decodeUpdate(bytes, four);
    assert.ok(isTreatAsWithdraw(u), `stray ${stray}: ${JSON.stringify(u.problems.map((p) => p.message))}`);
    assert.deepEqual(u.nlri, [parseCidr('10.200.0.5/32')], 'the NLRI is still read (to be withdrawn)');
    const p = u.problems.find((x) => x.subcode === UpdateErrorSubcode.malformedAttributeList)!;
    assert.equal(p.code, ErrorCode.updateMessage);
  }
  // Field by field: the 3-byte header would fit, but the extended-length flag asks for 4.
  const bytes = update(
    '0000' + // withdrawn routes length 0
      '0017' + // total path attribute length 23
      '40 01 01 00' + // ORIGIN IGP
      '40 02 06 02 01 0000fdea' + // AS_PATH, AS_SEQUENCE of 1: 65002 (4-octet)
      '40 03 04 0a0a0c02' + // NEXT_HOP 10.10.12.2
      '50 02 00' + // flags 0x50 (transitive + extended length), type 2, then 1 of the 2 length bytes: stray
      '20 0ac80005', // NLRI 10.200.0.5/32
  );
  const u = decodeUpdate(bytes, four);
  assert.ok(isTreatAsWithdraw(u));
  assert.match(u.problems[0]!.message, /3 stray byte\(s\)/);
});
