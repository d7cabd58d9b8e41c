// Asks a segment who has each VIP, the way a client's kernel does, and reports every MAC that
// answered: the lab's check that exactly one LB node answers for a VIP. Runs inside a namespace
// (`ip netns exec <ns> node --import tsx test/support/l2-who-has.ts IFNAME ROUNDS WAIT_MS VIP…`).
// Per round: an ARP request from this host (IPv4) or a neighbour solicitation from :: (IPv6) for
// every VIP, then `WAIT_MS` of listening; one JSON line per round: {"t":…,"answers":{"vip":["mac",…]}}.
import { formatIp, parseIp } from '../../src/net/index.ts';
import { openPacketSocket } from '../../src/l2/packet-socket.ts';
import { ArpOperation, decodeArpFrame, encodeArp } from '../../src/l2/wire/arp.ts';
import { BROADCAST_MAC, EtherType, ZERO_MAC, encodeEthernet, formatMac } from '../../src/l2/wire/ethernet.ts';
import { decodeNdpFrame, neighborProbeFrame } from '../../src/l2/wire/ndp.ts';

const [ifname, roundsText, waitText, ...vipTexts] = process.argv.slice(2);
if (ifname === undefined || vipTexts.length === 0) {
  process.stderr.write('usage: l2-who-has.ts IFNAME ROUNDS WAIT_MS VIP…\n');
  process.exit(2);
}
const rounds = Math.min(Number(roundsText), 1000);
const waitMs = Math.min(Number(waitText), 5000);
const vips = vipTexts.map((t) => parseIp(t));
const arp = openPacketSocket(ifname, 'arp');
const ipv6 = openPacketSocket(ifname, 'ipv6');
// Our own IPv4 address as the sender: any address on the segment will do for the question.
const sender = parseIp('0.0.0.1');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (let round = 0; round < rounds; round++) {
  arp.receive();
  ipv6.receive();
  const t = Date.now();
  for (const vip of vips) {
    if (vip.family === 4) {
      const request = encodeArp({ operation: ArpOperation.request, senderMac: arp.mac, senderIp: sender, targetMac: ZERO_MAC, targetIp: vip });
      arp.send(encodeEthernet({ destination: BROADCAST_MAC, source: arp.mac, etherType: EtherType.arp }, request));
    } else ipv6.send(neighborProbeFrame(vip, ipv6.mac));
  }
  const answers: Record<string, Set<string>> = Object.fromEntries(vips.map((v) => [formatIp(v), new Set<string>()]));
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    for (const frame of arp.receive()) {
      const d = decodeArpFrame(frame);
      if (d.ok && d.packet.operation === ArpOperation.reply) answers[formatIp(d.packet.senderIp)]?.add(formatMac(d.packet.senderMac));
    }
    for (const frame of ipv6.receive()) {
      const d = decodeNdpFrame(frame);
      if (d.ok && d.kind === 'advertisement') answers[formatIp(d.message.target)]?.add(formatMac(d.message.targetMac ?? d.frameSource));
    }
    await sleep(5);
  }
  process.stdout.write(`${JSON.stringify({ t, answers: Object.fromEntries(Object.entries(answers).map(([k, v]) => [k, [...v]])) })}\n`);
}
arp.close();
ipv6.close();
