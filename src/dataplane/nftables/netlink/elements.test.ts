import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NftError, NftErrorCode } from '../errors.ts';
import { SET_DECLARATIONS, SetNames, normalizeCidrs, type SetName } from '../render.ts';
import { normalizeElement } from '../listing.ts';
import { formatIp, type Family } from '../../../net/index.ts';
import { HOST_LE, NetlinkWriter } from './attrs.ts';
import { ElementDecoder } from './decode.ts';
import { SET_LAYOUTS, type DumpedElement, type WireElement } from './elements.ts';
import { ElementEncoder, writeWireElement } from './encode.ts';
import { elementText, type SetElement } from '../set-elements.ts';
import { parseElement, prefixText, vipOf } from '../testdata/elements.ts';

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));
/** The elements nft prints as `texts`, as structures. */
const parsed = (set: SetName, texts: readonly string[]): SetElement[] => texts.map((t) => parseElement(set, t));
const encode = (set: SetName, texts: readonly string[], verb: 'add' | 'delete' = 'add'): WireElement[] => new ElementEncoder().encode(set, verb, parsed(set, texts));
/** What a dump gives back for what was written. */
const dumped = (w: readonly WireElement[]): DumpedElement[] =>
  w.map(({ source: _source, ...e }) => ({ ...e }));
const decode = (set: SetName, w: readonly WireElement[]): string[] => new ElementDecoder().decode(set, dumped(w));

test('every set of the table has a layout that matches its declaration', () => {
  for (const name of Object.values(SetNames)) {
    const layout = SET_LAYOUTS[name];
    const declared = SET_DECLARATIONS[name];
    assert.equal(declared.kind === 'map', layout.data !== 'none', name);
    assert.equal(declared.lines.includes('counter'), layout.counter, name);
    assert.equal(declared.lines.includes('flags interval'), layout.shape !== 'hash', name);
    assert.equal(layout.shape === 'intervals', name.startsWith('deny'), name);
    assert.equal(layout.key.includes('slot'), name.startsWith('backends'), name);
  }
});

// Byte-exact encodings taken from `nft --debug=netlink,mnl -f` (nft 1.0.6, kernel 6.18) on
// this machine, for the same element text; the libnftnl line is quoted above each.
test('elements encode to the bytes nft 1.0.6 sends', { skip: !HOST_LE && 'the slot bytes below are little-endian host order' }, () => {
  // element 0500c80a 00000006 00005000 00000003  : 2901640a 0000901f 0 [end]
  const [slot] = encode('backends4tcp', ['10.200.0.5 . tcp . 80 . 3 : 10.100.1.41 . 8080']);
  assert.equal(hex(slot!.key), '0ac80005' + '06000000' + '00500000' + '03000000');
  assert.equal(hex(slot!.data), '0a640129' + '1f900000');
  // element 000200fd 00000000 00000000 05000000 00000006 00005000 : goto -> pick6_tcp_random_2
  const [fe6] = encode('frontends6', ['fd00:200::5 . tcp . 80 : goto pick6_tcp_random_2']);
  assert.equal(hex(fe6!.key), 'fd000200000000000000000000000005' + '06000000' + '00500000');
  assert.deepEqual(fe6!.verdict, { code: -4, chain: 'pick6_tcp_random_2' });
  // element 0600c80a 00000006 0000bb01 0000a8c0 - 0600c80a 00000006 0000bb01 ffffa8c0
  // element 0600c80a 00000006 0000bb01 0302010a - 0600c80a 00000006 0000bb01 0302010a
  const allow = encode('allow4', ['10.200.0.6 . tcp . 443 . 192.168.0.0/16', '10.200.0.6 . tcp . 443 . 10.1.2.3']);
  assert.deepEqual(
    allow.map((e) => [hex(e.key), hex(e.keyEnd), e.flags]),
    [
      ['0ac8000606000000' + '01bb0000' + 'c0a80000', '0ac8000606000000' + '01bb0000' + 'c0a8ffff', 0],
      ['0ac8000606000000' + '01bb0000' + '0a010203', '0ac8000606000000' + '01bb0000' + '0a010203', 0],
    ],
  );
  // add element … deny4 { 11.0.0.0/8, 10.181.0.7 }:
  // element 00000000 : 1 [end] element 0700b50a : 0 [end] element 0800b50a : 1 [end]
  // element 0000000b : 0 [end] element 0000000c : 1 [end]
  assert.deepEqual(
    encode('deny4', ['11.0.0.0/8', '10.181.0.7']).map((e) => [hex(e.key), e.flags, e.source]),
    [['00000000', 1, 1], ['0ab50007', 0, 1], ['0ab50008', 1, 1], ['0b000000', 0, 0], ['0c000000', 1, 0]],
  );
  // add element … deny4 { 255.0.0.0/8 }: element 00000000 : 1 [end]
  // element 000000ff : 0 [end] userdata = { \x01\x04\x01\x00\x00\x00 }
  assert.deepEqual(
    encode('deny4', ['255.0.0.0/8']).map((e) => [hex(e.key), e.flags, hex(e.userdata)]),
    [['00000000', 1, undefined], ['ff000000', 0, '010401000000']],
  );
  // add element … deny4 { 0.0.0.0/8 }: no leading end element
  assert.deepEqual(encode('deny4', ['0.0.0.0/8']).map((e) => [hex(e.key), e.flags]), [['00000000', 0], ['01000000', 1]]);
  // add element … deny6 { fd00:180::/64, ffff::/16, ::1 }
  assert.deepEqual(
    encode('deny6', ['fd00:180::/64', 'ffff::/16', '::1']).map((e) => [hex(e.key), e.flags, hex(e.userdata)]),
    [
      ['00000000000000000000000000000000', 1, undefined],
      ['00000000000000000000000000000001', 0, undefined],
      ['00000000000000000000000000000002', 1, undefined],
      ['fd000180000000000000000000000000', 0, undefined],
      ['fd000180000000010000000000000000', 1, undefined],
      ['ffff0000000000000000000000000000', 0, '010401000000'],
    ],
  );
});

test('a delete names the key only, and an interval by its start and end', () => {
  const [e] = encode('backends4udp', ['10.200.0.5 . udp . 53 . 1'], 'delete');
  assert.equal(e!.data, undefined);
  assert.deepEqual(encode('deny4', ['10.180.0.0/16'], 'delete').map((x) => [hex(x.key), x.flags]), [['0ab40000', 0], ['0ab50000', 1]]);
});

const v4 = fc.integer({ min: 0, max: 0xffffffff }).map((n) => formatIp({ family: 4, value: BigInt(n) }));
const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).chain((n) =>
  // Zero runs matter for RFC 5952 text: mix in addresses with many zero groups.
  fc.constantFrom(n, n & 0xffff0000_00000000_00000000_0000ffffn, n & 0xffffffff_00000000_00000000_ffffffffn),
).map((value) => formatIp({ family: 6, value }));
const addr = (f: Family): fc.Arbitrary<string> => (f === 4 ? v4 : v6);
const proto = fc.constantFrom('tcp', 'udp');
const port = fc.integer({ min: 0, max: 65535 }).map(String);
const slot = fc.integer({ min: 0, max: 255 }).map(String);
const prefix = (f: Family): fc.Arbitrary<string> =>
  fc.tuple(f === 4 ? fc.bigInt({ min: 0n, max: 0xffffffffn }) : fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 0, max: f === 4 ? 32 : 128 })).map(([value, length]) => {
    const bits = f === 4 ? 32 : 128;
    const network = length === 0 ? 0n : (value >> BigInt(bits - length)) << BigInt(bits - length);
    const text = formatIp({ family: f, value: network });
    return length === bits ? text : `${text}/${length}`;
  });
const chain = fc.stringMatching(/^pick[46]_(tcp|udp)_(random|hash)_[1-9][0-9]?$/);

/** A random element of the set, in the text diff.ts writes. */
function elementOf(set: SetName): fc.Arbitrary<string> {
  const f: Family = set.includes('6') ? 6 : 4;
  const key = fc.tuple(addr(f), proto, port).map((p) => p.join(' . '));
  if (set.startsWith('frontends')) return fc.tuple(key, chain).map(([k, c]) => `${k} : goto ${c}`);
  if (set.startsWith('backends')) return fc.tuple(key, slot, addr(f), port).map(([k, s, a, p]) => `${k} . ${s} : ${a} . ${p}`);
  if (set.startsWith('allow')) return fc.tuple(key, prefix(f)).map(([k, p]) => `${k} . ${p}`);
  return key;
}

test('the netlink path and the text path describe the same elements: structures encode to bytes that decode to their rendered text, and back to the same structures', () => {
  for (const set of Object.values(SetNames).filter((s) => !s.startsWith('deny'))) {
    fc.assert(
      fc.property(fc.array(elementOf(set), { minLength: 1, maxLength: 8 }), (texts) => {
        const structures = parsed(set, texts);
        // The text renderer gives back what nft prints (and a listing normalizes to).
        assert.deepEqual(structures.map(elementText), texts);
        assert.deepEqual(texts.map(normalizeElement), texts);
        const listed = decode(set, new ElementEncoder().encode(set, 'add', structures));
        assert.deepEqual(listed, texts);
        assert.deepEqual(parsed(set, listed), structures);
      }),
      { numRuns: 150 },
    );
  }
});

test('elements written straight from their structures are the bytes of their wire form', () => {
  for (const set of Object.values(SetNames).filter((s) => !s.startsWith('deny'))) {
    fc.assert(
      fc.property(elementOf(set), fc.boolean(), (text, del) => {
        const verb = del ? 'delete' : 'add';
        const e = parseElement(set, del ? text.split(' : ')[0]! : text);
        const direct = new NetlinkWriter(16);
        new ElementEncoder().write(direct, set, SET_LAYOUTS[set], verb, e);
        const viaWire = new NetlinkWriter(16);
        for (const w of new ElementEncoder().encode(set, verb, [e])) writeWireElement(viaWire, w);
        assert.equal(direct.bytes().toString('hex'), viaWire.bytes().toString('hex'));
      }),
      { numRuns: 100 },
    );
  }
});

test('a deny list decodes to its prefixes in address order, whatever order it was written in', () => {
  for (const f of [4, 6] as const) {
    const set: SetName = f === 4 ? 'deny4' : 'deny6';
    fc.assert(
      fc.property(fc.array(prefix(f), { maxLength: 10 }), (texts) => {
        // The deny lists diff.ts writes never overlap (normalizeCidrs drops covered prefixes).
        const { cidrs } = normalizeCidrs(texts, f);
        const sorted = cidrs.map((c) => (c.prefixLength === (f === 4 ? 32 : 128) ? formatIp({ family: f, value: c.network }) : `${formatIp({ family: f, value: c.network })}/${c.prefixLength}`));
        const shuffled = [...sorted].reverse();
        assert.deepEqual(decode(set, encode(set, shuffled)), sorted);
      }),
      { numRuns: 300 },
    );
  }
});

test('the kernel order of a dump does not matter to a deny list, nor does the top of the address space', () => {
  // 10/8 ends where 11/8 starts: an end and a start at one address.
  const w = encode('deny4', ['10.0.0.0/8', '11.0.0.0/8', '128.0.0.0/1']);
  assert.deepEqual(decode('deny4', [...w].reverse()), ['10.0.0.0/8', '11.0.0.0/8', '128.0.0.0/1']);
  assert.deepEqual(decode('deny4', encode('deny4', ['0.0.0.0/0'])), ['0.0.0.0/0']);
  assert.deepEqual(decode('deny6', encode('deny6', ['::/0'])), ['::/0']);
  // A start and end that are no prefix list as a range, as nft prints it.
  const range: DumpedElement[] = [
    { key: Uint8Array.of(10, 0, 0, 1), flags: 0 },
    { key: Uint8Array.of(10, 0, 0, 6), flags: 1 },
  ];
  assert.deepEqual(new ElementDecoder().decode('deny4', range), ['10.0.0.1-10.0.0.5']);
});

test('an element that is not of the set is refused before anything is sent, naming it and what is wrong', () => {
  const refused = (set: SetName, e: SetElement, verb: 'add' | 'delete', words: RegExp): void => {
    const text = elementText(e);
    assert.throws(
      () => new ElementEncoder().encode(set, verb, [e]),
      (x: unknown) => x instanceof NftError && x.code === NftErrorCode.commandFailed && x.message.includes(`"${text}"`) && words.test(x.message),
      `${set} ${verb} ${text}`,
    );
  };
  const vip4 = vipOf('10.200.0.5 . tcp . 80');
  const vip6 = vipOf('fd00::1 . tcp . 80');
  const backend = { address: { family: 4, value: 0x0a640129n }, port: 8080, text: '10.100.1.41 . 8080' } as const;
  refused('frontends4', { kind: 'frontend', vip: { ...vip4, protocol: 'sctp' as 'tcp' } }, 'delete', /"sctp" is not tcp or udp/);
  refused('frontends4', { kind: 'frontend', vip: vip4 }, 'add', /is a map/);
  refused('frontends4', { kind: 'frontend', vip: vip4, goto: 'x y' }, 'add', /is not a chain name/);
  refused('frontends4', { kind: 'frontend', vip: vip6, goto: 'a' }, 'add', /is not an IPv4 address/);
  refused('backends4tcp', { kind: 'slot', vip: vip4, slot: 3, backend: { ...backend, port: 70000 } }, 'add', /a port 0-65535/);
  refused('backends4tcp', { kind: 'vip', vip: vip4 }, 'add', /takes slot elements, not vip/);
  refused('backends4tcp', { kind: 'slot', vip: vip4, slot: 1, backend }, 'delete', /a delete names the key only/);
  refused('masq6', { kind: 'frontend', vip: vip6, goto: 'a' }, 'add', /takes vip elements/);
  refused('allow4', { kind: 'source', vip: vip4, source: { cidr: undefined, text: '10.0.0.1-10.0.0.5' } }, 'delete', /is not an IPv4 prefix/);
  refused('deny6', { kind: 'prefix', prefix: prefixText('10.0.0.0/8') }, 'add', /is not an IPv6 prefix/);
});
