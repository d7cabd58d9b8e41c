import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatIp, parseIp } from '../../net/index.ts';
import { formatMac, parseMac } from './ethernet.ts';
import {
  decodeNdpFrame,
  icmpv6Checksum,
  multicastMac,
  NaFlag,
  NdpIgnored,
  neighborAdvertisementFrame,
  neighborProbeFrame,
  solicitedNodeMulticast,
  unsolicitedAdvertisementFrame,
} from './ndp.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex'));

// Captured from Linux 6.18 (veth between two namespaces; a UDP datagram from fd77::1 to the
// unresolved fd77::5 made the kernel solicit it), read on an AF_PACKET socket.
const kernelSolicitation = hex(`
  3333ff000005 02000000000a 86dd     # Ethernet: to the solicited-node group's MAC, IPv6
  60000000 0020 3a ff                # IPv6: payload 32, next header ICMPv6, hop limit 255
  fd770000000000000000000000000001   # source fd77::1
  ff0200000000000000000001ff000005   # destination ff02::1:ff00:5
  87 00 7c9a 00000000                # NS, code 0, checksum (the kernel's), reserved
  fd770000000000000000000000000005   # target fd77::5
  01 01 02000000000a                 # option: source link-layer address 02:00:00:00:00:0a
`);
const ourMac = parseMac('02:00:00:00:00:0b');

test('reads the solicitation the kernel sends for an unresolved neighbour', () => {
  const decoded = decodeNdpFrame(kernelSolicitation);
  assert.ok(decoded.ok && decoded.kind === 'solicitation');
  assert.equal(formatIp(decoded.message.source), 'fd77::1');
  assert.equal(formatIp(decoded.message.target), 'fd77::5');
  assert.equal(formatMac(decoded.message.sourceMac ?? new Uint8Array()), '02:00:00:00:00:0a');
});

test('computes the checksum the kernel computed', () => {
  const message = kernelSolicitation.slice(54);
  message[2] = 0;
  message[3] = 0;
  assert.equal(icmpv6Checksum(parseIp('fd77::1'), parseIp('ff02::1:ff00:5'), message), 0x7c9a);
});

test('the solicited-node group and its MAC are the ones the kernel used', () => {
  const group = solicitedNodeMulticast(parseIp('fd77::5'));
  assert.equal(formatIp(group), 'ff02::1:ff00:5');
  assert.equal(formatMac(multicastMac(group)), '33:33:ff:00:00:05');
});

test('answers a solicitation with S and O set, to the asker, from the VIP', () => {
  const decoded = decodeNdpFrame(kernelSolicitation);
  assert.ok(decoded.ok && decoded.kind === 'solicitation');
  const frame = neighborAdvertisementFrame(decoded.message, decoded.frameSource, parseIp('fd77::5'), ourMac);
  assert.deepEqual(frame.subarray(0, 14), hex('02000000000a 02000000000b 86dd'));
  assert.deepEqual(frame.subarray(14, 22), hex('60000000 0020 3a ff'));
  assert.deepEqual(frame.subarray(54, 55), hex('88')); // NA
  assert.deepEqual(frame.subarray(58, 62), hex('60000000')); // S | O
  assert.deepEqual(frame.subarray(78), hex('02 01 02000000000b')); // target link-layer address
  const back = decodeNdpFrame(frame);
  assert.ok(back.ok && back.kind === 'advertisement', 'our answer passes the checks a receiver makes, checksum included');
  assert.equal(formatIp(back.message.source), 'fd77::5');
  assert.equal(formatIp(back.message.destination), 'fd77::1');
  assert.equal(back.message.flags, NaFlag.solicited | NaFlag.override);
  assert.equal(formatMac(back.message.targetMac ?? new Uint8Array()), '02:00:00:00:00:0b');
});

test('answers duplicate address detection (from ::) to all-nodes, S clear', () => {
  const probe = decodeNdpFrame(neighborProbeFrame(parseIp('fd77::5'), parseMac('02:00:00:00:00:0c')));
  assert.ok(probe.ok && probe.kind === 'solicitation');
  assert.equal(formatIp(probe.message.source), '::');
  assert.equal(probe.message.sourceMac, undefined, 'RFC 4862 §5.4.2: no source link-layer option from ::');
  const answer = decodeNdpFrame(neighborAdvertisementFrame(probe.message, probe.frameSource, parseIp('fd77::5'), ourMac));
  assert.ok(answer.ok && answer.kind === 'advertisement');
  assert.equal(formatIp(answer.message.destination), 'ff02::1');
  assert.equal(answer.message.flags, NaFlag.override);
});

test('an unsolicited advertisement goes to all-nodes with O set', () => {
  const frame = unsolicitedAdvertisementFrame(parseIp('fd00:200::5'), ourMac);
  assert.equal(formatMac(frame.subarray(0, 6)), '33:33:00:00:00:01');
  const decoded = decodeNdpFrame(frame);
  assert.ok(decoded.ok && decoded.kind === 'advertisement');
  assert.equal(formatIp(decoded.message.target), 'fd00:200::5');
  assert.equal(decoded.message.flags, NaFlag.override);
});

test('drops what RFC 4861 §7.1 says a node must drop, and says why', () => {
  const offLink = kernelSolicitation.slice();
  offLink[21] = 64; // hop limit 64: it crossed a router
  assert.deepEqual(decodeNdpFrame(offLink), { ok: false, reason: NdpIgnored.badHopLimit });
  const corrupted = kernelSolicitation.slice();
  corrupted[60] = corrupted[60]! ^ 1;
  assert.deepEqual(decodeNdpFrame(corrupted), { ok: false, reason: NdpIgnored.badChecksum });
  assert.deepEqual(decodeNdpFrame(kernelSolicitation.subarray(0, 70)), { ok: false, reason: NdpIgnored.truncated });
  const echo = kernelSolicitation.slice();
  echo[54] = 128; // ICMPv6 echo request
  assert.deepEqual(decodeNdpFrame(echo), { ok: false, reason: NdpIgnored.notNdp });
});

test('an option of length 0 makes the message one to discard (RFC 4861 §4.6)', () => {
  const decoded = decodeNdpFrame(kernelSolicitation);
  assert.ok(decoded.ok && decoded.kind === 'solicitation');
  const frame = neighborAdvertisementFrame(decoded.message, decoded.frameSource, parseIp('fd77::5'), ourMac);
  frame[79] = 0; // target link-layer option length 0
  const message = frame.slice(54);
  message[2] = 0;
  message[3] = 0;
  const sum = icmpv6Checksum(parseIp('fd77::5'), parseIp('fd77::1'), message);
  frame[56] = sum >> 8;
  frame[57] = sum & 0xff;
  assert.deepEqual(decodeNdpFrame(frame), { ok: false, reason: NdpIgnored.badOption });
});

test('refuses an IPv4 VIP: IPv4 neighbours are ARP', () => {
  assert.throws(() => unsolicitedAdvertisementFrame(parseIp('10.200.0.5'), ourMac), { code: 'L2_WRONG_FAMILY' });
});

test('any bytes: a decision, never an exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, asIpv6) => {
      const frame = bytes.slice();
      if (asIpv6 && frame.length > 20) {
        frame[12] = 0x86;
        frame[13] = 0xdd;
        frame[20] = 58;
      }
      assert.equal(typeof decodeNdpFrame(frame).ok, 'boolean');
    }),
  );
});
