import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LAYOUTS, MODES, addr16, addrFrom16, decodeBackend, decodeService, encodeAllowKey, encodeBackend, encodeConfig, encodeLpmKey, encodeService, encodeServiceKey } from './layout.ts';
import { buildBpfObject } from './build.ts';

interface BtfStruct {
  size: number;
  members: Map<string, number>; // name → byte offset
}

/** STRUCT entries of `bpftool btf dump ... format raw`. */
function btfStructs(object: string): Map<string, BtfStruct> {
  const out = spawnSync('bpftool', ['btf', 'dump', 'file', object, 'format', 'raw'], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const structs = new Map<string, BtfStruct>();
  let current: BtfStruct | undefined;
  for (const line of out.stdout.split('\n')) {
    const head = /^\[\d+\] STRUCT '([^']+)' size=(\d+)/.exec(line);
    if (head !== null) {
      current = { size: Number(head[2]), members: new Map() };
      structs.set(head[1]!, current);
      continue;
    }
    const member = /^\s+'([^']*)' type_id=\d+ bits_offset=(\d+)/.exec(line);
    if (member !== null && current !== undefined) current.members.set(member[1]!, Number(member[2]) / 8);
    else if (!line.startsWith('\t') && !line.startsWith(' ')) current = undefined;
  }
  return structs;
}

test('every layout matches the compiled object’s BTF: size, field names and offsets', () => {
  const structs = btfStructs(buildBpfObject());
  for (const layout of Object.values(LAYOUTS)) {
    const btf = structs.get(layout.name);
    assert.ok(btf !== undefined, `${layout.name} is not in the object's BTF`);
    assert.equal(layout.size, btf.size, `${layout.name} size`);
    assert.deepEqual(
      new Map(Object.entries(layout.fields).map(([name, field]) => [name, field.offset])),
      btf.members,
      `${layout.name} fields and offsets`,
    );
    const fields = Object.values(layout.fields).sort((a, b) => a.offset - b.offset);
    const ends = fields.map((x) => x.offset + x.size);
    assert.equal(Math.max(...ends), layout.size, `${layout.name}: the last field ends at the struct's size`);
  }
});

test('addresses: IPv4 mapped into ::ffff:0:0/96, IPv6 as is, and back', () => {
  assert.deepEqual([...addr16('10.200.0.5')], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 200, 0, 5]);
  assert.equal(addrFrom16(addr16('fd00:200::5'), 6), 'fd00:200::5');
  assert.equal(addrFrom16(addr16('10.200.0.5'), 4), '10.200.0.5');
});

test('ports are network order, slots host order (annotated bytes)', () => {
  const key = encodeServiceKey({ address: '10.200.0.5', port: 80, protocol: 'tcp' });
  assert.deepEqual([...key.subarray(16)], [0x00, 0x50, /* port 80 BE */ 6 /* tcp */, 0]);
  const svc = encodeService({ slot: 0x0102, ringSize: 1009, flags: 5, ringHash: 7n });
  assert.deepEqual([...svc.subarray(0, 4)], [0x02, 0x01, 0, 0]);
  assert.deepEqual(decodeService(svc), { slot: 0x0102, ringSize: 1009, flags: 5, ringHash: 7n });
  const allow = encodeAllowKey(3, '10.0.1.0/24');
  assert.deepEqual([...allow.subarray(0, 8)], [32 + 96 + 24, 0, 0, 0, /* slot BE */ 0, 0, 0, 3]);
  assert.equal(encodeLpmKey('fd00:1::/64')[0], 64);
  assert.deepEqual(decodeBackend(encodeBackend({ address: 'fd00:100:1::41', port: 8080, present: true, slot: 9 })), {
    address: 'fd00:100:1::41',
    port: 8080,
    present: true,
    slot: 9,
  });
  assert.equal(decodeBackend(new Uint8Array(24)), undefined);
});

test('vg_config: mode numbers as vipgate.h, MTU host order, GUE port network order (annotated bytes)', () => {
  assert.deepEqual(MODES, { nat: 0, 'dsr-l2': 1, ipip: 2, gue: 3 });
  const cfg = encodeConfig({ snat4: '10.180.1.16', mode: 'gue', flags: 0, snatPortMin: 61_000, snatPortMax: 65_535, mtu: 1500, guePort: 6080 });
  assert.equal(cfg.length, 48, 'the size it had before mtu/gue_port: older pinned maps stay compatible');
  assert.deepEqual([...cfg.subarray(32, 36)], [3, 0, 0, 0], 'mode gue');
  assert.deepEqual([...cfg.subarray(44, 48)], [0xdc, 0x05, /* 1500 LE */ 0x17, 0xc0 /* 6080 BE */]);
  const old = encodeConfig({ mode: 'nat', flags: 0, snatPortMin: 61_000, snatPortMax: 65_535 });
  assert.deepEqual([...old.subarray(44, 48)], [0, 0, 0, 0], 'absent: 0, which the program reads as 1500 / 6080');
});
