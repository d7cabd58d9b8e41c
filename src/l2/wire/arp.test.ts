import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatIp, parseIp } from '../../net/index.ts';
import { ArpIgnored, ArpOperation, arpProbeFrame, arpReplyFrame, decodeArpFrame, gratuitousArpFrame } from './arp.ts';
import { formatMac, parseMac } from './ethernet.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

// Captured from Linux 6.18 (a veth pair between two namespaces; a UDP datagram from 10.77.0.1 to
// the unresolved 10.77.0.5 made the kernel ask), read on an AF_PACKET socket.
const kernelRequest = hex(`
  ffffffffffff 02000000000a 0806   # Ethernet: broadcast, from 02:00:00:00:00:0a, ARP
  0001 0800 06 04 0001              # htype Ethernet, ptype IPv4, hlen 6, plen 4, op request
  02000000000a 0a4d0001             # sender 02:00:00:00:00:0a 10.77.0.1
  000000000000 0a4d0005             # target ?                 10.77.0.5
`.replace(/#.*$/gm, ''));

test('reads the request the kernel sends for an unresolved neighbour', () => {
  const decoded = decodeArpFrame(kernelRequest);
  assert.ok(decoded.ok);
  assert.equal(decoded.packet.operation, ArpOperation.request);
  assert.equal(formatMac(decoded.source), '02:00:00:00:00:0a');
  assert.equal(formatMac(decoded.packet.senderMac), '02:00:00:00:00:0a');
  assert.equal(formatIp(decoded.packet.senderIp), '10.77.0.1');
  assert.equal(formatIp(decoded.packet.targetIp), '10.77.0.5');
});

test('answers a request with a unicast reply: the pairs swapped, our MAC as the sender', () => {
  const decoded = decodeArpFrame(kernelRequest);
  assert.ok(decoded.ok);
  const reply = arpReplyFrame(decoded.packet, decoded.source, parseMac('02:00:00:00:00:0b'));
  assert.deepEqual(
    reply,
    hex(`
      02000000000a 02000000000b 0806
      0001 0800 06 04 0002
      02000000000b 0a4d0005
      02000000000a 0a4d0001`),
  );
});

test('a gratuitous ARP is a broadcast request whose sender and target are both the VIP', () => {
  assert.deepEqual(
    gratuitousArpFrame(parseIp('10.200.0.5'), parseMac('02:00:00:00:00:0b')),
    hex(`
      ffffffffffff 02000000000b 0806
      0001 0800 06 04 0001
      02000000000b 0ac80005
      000000000000 0ac80005`),
  );
});

test('a probe asks from 0.0.0.0 so no cache learns from it (RFC 5227 §2.1.1)', () => {
  const decoded = decodeArpFrame(arpProbeFrame(parseIp('10.200.0.5'), parseMac('02:00:00:00:00:0b')));
  assert.ok(decoded.ok);
  assert.equal(formatIp(decoded.packet.senderIp), '0.0.0.0');
  assert.equal(formatIp(decoded.packet.targetIp), '10.200.0.5');
});

test('refuses an IPv6 address: IPv6 neighbours are NDP', () => {
  assert.throws(() => gratuitousArpFrame(parseIp('fd00::5'), parseMac('02:00:00:00:00:0b')), { code: 'L2_WRONG_FAMILY' });
});

test('says why a frame is not an ARP it answers', () => {
  assert.deepEqual(decodeArpFrame(kernelRequest.subarray(0, 30)), { ok: false, reason: ArpIgnored.truncated });
  const ipv4 = kernelRequest.slice();
  ipv4[13] = 0x00; // EtherType IPv4
  assert.deepEqual(decodeArpFrame(ipv4), { ok: false, reason: ArpIgnored.notArp });
  const tokenRing = kernelRequest.slice();
  tokenRing[15] = 6; // htype IEEE 802
  assert.deepEqual(decodeArpFrame(tokenRing), { ok: false, reason: ArpIgnored.notEthernetIpv4 });
  const rarp = kernelRequest.slice();
  rarp[21] = 3; // op RARP request
  assert.deepEqual(decodeArpFrame(rarp), { ok: false, reason: ArpIgnored.unknownOperation });
});

test('takes a frame padded to the 60-byte Ethernet minimum', () => {
  const padded = new Uint8Array(60);
  padded.set(kernelRequest);
  assert.ok(decodeArpFrame(padded).ok);
});

test('any bytes: a decision, never an exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const decoded = decodeArpFrame(bytes);
      assert.equal(typeof decoded.ok, 'boolean');
    }),
  );
});

test('what it writes, it reads back', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.tuple(octet, octet, octet, octet), (mac, [a, b, c, d]) => {
      const vip = parseIp(`${a}.${b}.${c}.${d}`);
      const decoded = decodeArpFrame(gratuitousArpFrame(vip, mac));
      assert.ok(decoded.ok);
      assert.equal(formatIp(decoded.packet.targetIp), formatIp(vip));
      assert.deepEqual(decoded.packet.senderMac, mac);
    }),
  );
});
