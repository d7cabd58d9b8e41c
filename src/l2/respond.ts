// What the responder does with one received frame, as a pure decision: answer for a VIP this
// node owns, notice another MAC claiming one (a conflict, docs/design/017), or ignore it, and why.
import { formatIp, type IpAddress } from '../net/index.ts';
import { ArpOperation, arpReplyFrame, decodeArpFrame } from './wire/arp.ts';
import { sameMac, type Mac } from './wire/ethernet.ts';
import { decodeNdpFrame, neighborAdvertisementFrame } from './wire/ndp.ts';

export type Outcome =
  | { readonly kind: 'answer'; readonly protocol: 'arp' | 'ndp'; readonly vip: IpAddress; readonly frame: Uint8Array }
  | { readonly kind: 'conflict'; readonly protocol: 'arp' | 'ndp'; readonly vip: IpAddress; readonly mac: Mac }
  | { readonly kind: 'ignored'; readonly reason: string };

/** The VIPs one interface answers for, keyed by `formatIp` (its canonical text), and its MAC. */
export interface InterfaceView {
  readonly mac: Mac;
  readonly owned: ReadonlyMap<string, IpAddress>;
  /** VIPs about to be taken (probed, not answered yet): another MAC claiming one is a conflict too. */
  readonly probing?: ReadonlyMap<string, IpAddress>;
}

const NOT_OURS = { kind: 'ignored', reason: 'not-owned' } as const;

/** Decides what to do with an ARP frame received on an interface. */
export function respondToArp(frame: Uint8Array, view: InterfaceView): Outcome {
  const decoded = decodeArpFrame(frame);
  if (!decoded.ok) return { kind: 'ignored', reason: decoded.reason };
  const { packet } = decoded;
  if (sameMac(packet.senderMac, view.mac)) return { kind: 'ignored', reason: 'own' };
  // Somebody else saying it holds one of our VIPs: a reply, or a gratuitous ARP (sender = VIP).
  const sender = formatIp(packet.senderIp);
  const claimed = view.owned.get(sender) ?? view.probing?.get(sender);
  if (claimed !== undefined) return { kind: 'conflict', protocol: 'arp', vip: claimed, mac: packet.senderMac };
  if (packet.operation !== ArpOperation.request) return NOT_OURS;
  const vip = view.owned.get(formatIp(packet.targetIp));
  if (vip === undefined) return NOT_OURS;
  return { kind: 'answer', protocol: 'arp', vip, frame: arpReplyFrame(packet, decoded.source, view.mac) };
}

/** Decides what to do with an IPv6 frame received on an interface (only NS and NA matter). */
export function respondToNdp(frame: Uint8Array, view: InterfaceView): Outcome {
  const decoded = decodeNdpFrame(frame);
  if (!decoded.ok) return { kind: 'ignored', reason: decoded.reason };
  if (sameMac(decoded.frameSource, view.mac)) return { kind: 'ignored', reason: 'own' };
  const target = formatIp(decoded.message.target);
  if (decoded.kind === 'advertisement') {
    const claimed = view.owned.get(target) ?? view.probing?.get(target);
    if (claimed === undefined) return NOT_OURS;
    return { kind: 'conflict', protocol: 'ndp', vip: claimed, mac: decoded.message.targetMac ?? decoded.frameSource };
  }
  const vip = view.owned.get(target);
  if (vip === undefined) return NOT_OURS;
  return { kind: 'answer', protocol: 'ndp', vip, frame: neighborAdvertisementFrame(decoded.message, decoded.frameSource, vip, view.mac) };
}
