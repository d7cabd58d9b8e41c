import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIp, parseIp, type IpAddress } from '../net/index.ts';
import { respondToArp, respondToNdp, type InterfaceView } from './respond.ts';
import { arpProbeFrame, decodeArpFrame, gratuitousArpFrame } from './wire/arp.ts';
import { parseMac } from './wire/ethernet.ts';
import { neighborProbeFrame, unsolicitedAdvertisementFrame } from './wire/ndp.ts';

const ours = parseMac('02:00:00:00:00:0b');
const theirs = parseMac('02:00:00:00:00:0c');
const byText = (...texts: string[]): Map<string, IpAddress> => new Map(texts.map((t) => [formatIp(parseIp(t)), parseIp(t)]));
const view = (owned: string[], probing: string[] = []): InterfaceView => ({ mac: ours, owned: byText(...owned), probing: byText(...probing) });

test('an ARP probe for an owned VIP is answered, to the prober, so it backs off', () => {
  const outcome = respondToArp(arpProbeFrame(parseIp('10.77.0.5'), theirs), view(['10.77.0.5']));
  assert.ok(outcome.kind === 'answer');
  const reply = decodeArpFrame(outcome.frame);
  assert.ok(reply.ok);
  assert.equal(formatIp(reply.packet.senderIp), '10.77.0.5');
  assert.deepEqual(reply.packet.targetMac, theirs);
});

test('a VIP being probed is not answered, but another MAC claiming it is a conflict', () => {
  assert.deepEqual(respondToArp(arpProbeFrame(parseIp('10.77.0.5'), theirs), view([], ['10.77.0.5'])), { kind: 'ignored', reason: 'not-owned' });
  const arp = respondToArp(gratuitousArpFrame(parseIp('10.77.0.5'), theirs), view([], ['10.77.0.5']));
  assert.equal(arp.kind, 'conflict');
  const ndp = respondToNdp(unsolicitedAdvertisementFrame(parseIp('fd77::5'), theirs), view([], ['fd77::5']));
  assert.equal(ndp.kind, 'conflict');
  assert.deepEqual(respondToNdp(neighborProbeFrame(parseIp('fd77::5'), theirs), view([], ['fd77::5'])), { kind: 'ignored', reason: 'not-owned' });
});

test('our own frames, echoed back by a bridge, are neither answered nor conflicts', () => {
  assert.deepEqual(respondToArp(gratuitousArpFrame(parseIp('10.77.0.5'), ours), view(['10.77.0.5'])), { kind: 'ignored', reason: 'own' });
  assert.deepEqual(respondToNdp(unsolicitedAdvertisementFrame(parseIp('fd77::5'), ours), view(['fd77::5'])), { kind: 'ignored', reason: 'own' });
});

test('an announcement for a VIP nobody here wants is somebody else’s business', () => {
  assert.deepEqual(respondToArp(gratuitousArpFrame(parseIp('10.77.0.8'), theirs), view(['10.77.0.5'])), { kind: 'ignored', reason: 'not-owned' });
  assert.deepEqual(respondToNdp(unsolicitedAdvertisementFrame(parseIp('fd77::8'), theirs), view(['fd77::5'])), { kind: 'ignored', reason: 'not-owned' });
});
