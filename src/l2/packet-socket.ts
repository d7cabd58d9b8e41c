// An AF_PACKET socket on one interface (packet(7)), through libc (src/libc.ts): Node has no raw
// sockets, and libuv cannot watch a packet socket's fd, so received frames are drained without
// blocking (MSG_DONTWAIT) by the responder's poll, and no thread ever waits in recv().
import { endianness } from 'node:os';
import { cInt, errnoText, libc, Sys } from '../libc.ts';
import { L2Error, L2ErrorCode } from './errors.ts';
import type { Mac } from './wire/ethernet.ts';

const { AF_PACKET, SOCK_RAW, SOCK_NONBLOCK, SOCK_CLOEXEC, MSG_DONTWAIT, EAGAIN, EINTR } = Sys;
/** linux/if_ether.h ETH_P_ARP / ETH_P_IPV6: the socket takes only what L2 mode reads. */
const ETH_P_ARP = 0x0806;
const ETH_P_IPV6 = 0x86dd;
const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_DROP_MEMBERSHIP = 2;
const PACKET_MR_MULTICAST = 0;
/** linux/if_packet.h (Linux 4.20+): leave out frames this host sends, our own announcements included. */
const PACKET_IGNORE_OUTGOING = 23;
const SIOCGIFHWADDR = 0x8927;
const SIOCGIFINDEX = 0x8933;
/** sizeof(struct ifreq) on Linux x86-64. */
const IFREQ_SIZE = 40;
/** sizeof(struct sockaddr_ll). */
const SOCKADDR_LL_SIZE = 20;
/** sizeof(struct packet_mreq). */
const PACKET_MREQ_SIZE = 16;
/** The biggest frame read: ARP and ND messages are small; a jumbo frame is cut, and ignored. */
const FRAME_BUFFER = 2048;

const htons = (value: number): number => (endianness() === 'LE' ? ((value & 0xff) << 8) | (value >> 8) : value);

/** The failure of the libc call just made. */
function failure(what: string, ifname: string): L2Error {
  return new L2Error(L2ErrorCode.socket, `${what} on ${ifname} failed: ${errnoText()}`);
}

/** One interface's frames of one EtherType: read without blocking, written whole. */
export interface PacketSocket {
  readonly ifname: string;
  readonly ifindex: number;
  /** The interface's MAC, the one L2 mode answers with. */
  readonly mac: Mac;
  /** Every frame waiting now (none: an empty list). */
  receive(): Uint8Array[];
  send(frame: Uint8Array): void;
  /** Receive frames sent to this Ethernet multicast group (IPv6 solicited-node groups). */
  joinGroup(mac: Mac): void;
  leaveGroup(mac: Mac): void;
  close(): void;
}

/** Opens a packet socket on `ifname` for ARP (`arp`) or IPv6 (`ipv6`, for NDP) in this process's namespace. */
export function openPacketSocket(ifname: string, kind: 'arp' | 'ipv6'): PacketSocket {
  const c = libc();
  const protocol = htons(kind === 'arp' ? ETH_P_ARP : ETH_P_IPV6);
  const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw failure('socket(AF_PACKET)', ifname);
  try {
    const ifreq = Buffer.alloc(IFREQ_SIZE);
    if (Buffer.byteLength(ifname) > 15) throw new L2Error(L2ErrorCode.socket, `interface name "${ifname}" is longer than 15 bytes`);
    ifreq.write(ifname, 0);
    if (c.ioctl(fd, SIOCGIFINDEX, ifreq) !== 0) throw failure('SIOCGIFINDEX (does the interface exist?)', ifname);
    const ifindex = ifreq.readInt32LE(16);
    if (c.ioctl(fd, SIOCGIFHWADDR, ifreq) !== 0) throw failure('SIOCGIFHWADDR', ifname);
    const mac = Uint8Array.from(ifreq.subarray(18, 24));
    const address = Buffer.alloc(SOCKADDR_LL_SIZE);
    address.writeUInt16LE(AF_PACKET, 0);
    address.writeUInt16LE(protocol, 2); // already in network order, stored as it is
    address.writeInt32LE(ifindex, 4);
    if (c.bind(fd, address, SOCKADDR_LL_SIZE) !== 0) throw failure('bind(AF_PACKET)', ifname);
    if (c.setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, cInt(1), 4) !== 0) throw failure('PACKET_IGNORE_OUTGOING', ifname);
    const membership = (option: number, group: Mac): void => {
      const mreq = Buffer.alloc(PACKET_MREQ_SIZE);
      mreq.writeInt32LE(ifindex, 0);
      mreq.writeUInt16LE(PACKET_MR_MULTICAST, 4);
      mreq.writeUInt16LE(6, 6);
      mreq.set(group, 8);
      if (c.setsockopt(fd, SOL_PACKET, option, mreq, PACKET_MREQ_SIZE) !== 0) throw failure('PACKET_ADD/DROP_MEMBERSHIP', ifname);
    };
    const buffer = Buffer.alloc(FRAME_BUFFER);
    let open = true;
    return {
      ifname,
      ifindex,
      mac,
      receive() {
        const frames: Uint8Array[] = [];
        while (open) {
          const got = c.recv(fd, buffer, buffer.length, MSG_DONTWAIT);
          if (got >= 0) {
            frames.push(Uint8Array.from(buffer.subarray(0, got)));
            continue;
          }
          const errno = c.errno();
          if (errno === EINTR) continue;
          if (errno === EAGAIN) break;
          throw failure('recv', ifname);
        }
        return frames;
      },
      send(frame) {
        if (c.send(fd, frame, frame.length, 0) !== frame.length) throw failure('send', ifname);
      },
      joinGroup: (group) => membership(PACKET_ADD_MEMBERSHIP, group),
      leaveGroup: (group) => membership(PACKET_DROP_MEMBERSHIP, group),
      close() {
        if (open) c.close(fd);
        open = false;
      },
    };
  } catch (error) {
    c.close(fd);
    throw error;
  }
}
