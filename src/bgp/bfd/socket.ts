/**
 * RFC 5881 single-hop transport. Per local address, one receiving socket on UDP 3784 shared by
 * every session from that address (packets are handed to the session of their source address);
 * per session, one sending socket on a source port from 49152–65535, kept for the session's
 * life (§4: "The same UDP source port number MUST be used for all BFD Control packets
 * associated with a particular session"), sending with TTL/Hop Limit 255 (§5).
 *
 * Not done here: §5's receive-side check ("the received TTL/Hop Limit MUST be 255"). Node's
 * dgram cannot report a datagram's TTL (that needs IP_RECVTTL / IPV6_RECVHOPLIMIT and
 * recvmsg), so packets with any TTL are accepted; the check belongs in a kernel-level filter
 * (an nftables rule on udp dport 3784) — a later step.
 */
import { createSocket, type Socket } from 'node:dgram';
import { formatIp, tryParseIp } from '../../net/index.ts';
import { BFD_CONTROL_PORT, BFD_SOURCE_PORTS, BFD_TTL } from './constants.ts';
import { BfdError, BfdErrorCode } from './errors.ts';

/** One session's way to the wire. */
export interface BfdLink {
  send(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export type BfdReceiver = (bytes: Uint8Array) => void;

/** What BFD sessions need from the network; tests replace it with an in-memory one. */
export interface BfdTransport {
  /** Opens a session's link from `localAddress` to `peerAddress`; `receive` gets its packets. */
  open(localAddress: string, peerAddress: string, receive: BfdReceiver): Promise<BfdLink>;
}

export interface UdpBfdTransportOptions {
  /** Port to receive on; 3784 (RFC 5881) unless a test needs another. */
  readonly port?: number;
  /** Port the peer listens on; 3784 unless a test needs another. */
  readonly peerPort?: number;
  /** In [0, 1): picks source ports. */
  readonly random?: () => number;
}

interface Listener {
  readonly socket: Socket;
  readonly receiversByPeer: Map<string, BfdReceiver>; // canonical peer address → its session
}

function canonical(address: string): string {
  // Dual-stack sockets report IPv4 sources as "::ffff:a.b.c.d".
  const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  const ip = tryParseIp(plain);
  if (ip === undefined) throw new BfdError(BfdErrorCode.badAddress, `"${address}" is not an IP address`);
  return formatIp(ip);
}

function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

export class UdpBfdTransport implements BfdTransport {
  private readonly listenersByLocal = new Map<string, Promise<Listener>>(); // local address → its 3784 socket
  private readonly closingByLocal = new Map<string, Promise<void>>(); // local address → its last 3784 socket closing
  private readonly port: number;
  private readonly peerPort: number;
  private readonly random: () => number;

  constructor(options: UdpBfdTransportOptions = {}) {
    this.port = options.port ?? BFD_CONTROL_PORT;
    this.peerPort = options.peerPort ?? BFD_CONTROL_PORT;
    this.random = options.random ?? Math.random;
  }

  async open(localAddress: string, peerAddress: string, receive: BfdReceiver): Promise<BfdLink> {
    const local = canonical(localAddress);
    const peer = canonical(peerAddress);
    const type = local.includes(':') ? 'udp6' : 'udp4';
    const pending = this.listener(local, type);
    const listener = await pending;
    if (listener.receiversByPeer.has(peer)) throw new BfdError(BfdErrorCode.socket, `a BFD session from ${local} to ${peer} is already open`);
    listener.receiversByPeer.set(peer, receive);
    let sender: Socket;
    try {
      sender = await this.sender(local, type);
    } catch (error) {
      listener.receiversByPeer.delete(peer);
      throw error;
    }
    sender.on('error', () => undefined); // a send to an unreachable peer is not our crash
    let closed = false;
    return {
      send: (bytes) => {
        if (!closed) sender.send(bytes, this.peerPort, peer);
      },
      close: async () => {
        if (closed) return;
        closed = true;
        if (listener.receiversByPeer.get(peer) === receive) listener.receiversByPeer.delete(peer);
        // Decided before any await, so a session opened meanwhile gets a fresh listener
        // rather than one being closed.
        const last = listener.receiversByPeer.size === 0 && this.listenersByLocal.get(local) === pending;
        if (last) {
          this.listenersByLocal.delete(local);
          const closed = closeSocket(listener.socket);
          this.closingByLocal.set(local, closed);
          await closed;
          if (this.closingByLocal.get(local) === closed) this.closingByLocal.delete(local);
        }
        await closeSocket(sender);
      },
    };
  }

  private listener(local: string, type: 'udp4' | 'udp6'): Promise<Listener> {
    const existing = this.listenersByLocal.get(local);
    if (existing !== undefined) return existing;
    const created = (async (): Promise<Listener> => {
      // The port is free only once the previous socket on it has closed.
      await this.closingByLocal.get(local);
      const socket = createSocket({ type, ...(type === 'udp6' ? { ipv6Only: true } : {}) });
      const listener: Listener = { socket, receiversByPeer: new Map() };
      socket.on('message', (bytes, rinfo) => {
        const from = tryParseIp(rinfo.address);
        if (from !== undefined) listener.receiversByPeer.get(formatIp(from))?.(bytes);
      });
      try {
        await bind(socket, this.port, local);
      } catch (error) {
        await closeSocket(socket);
        throw new BfdError(BfdErrorCode.socket, `cannot receive BFD on ${local} port ${this.port}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      socket.on('error', () => undefined);
      return listener;
    })();
    this.listenersByLocal.set(local, created);
    created.catch(() => this.listenersByLocal.delete(local));
    return created;
  }

  private async sender(local: string, type: 'udp4' | 'udp6'): Promise<Socket> {
    const span = BFD_SOURCE_PORTS.max - BFD_SOURCE_PORTS.min + 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < 16; attempt++) {
      const port = BFD_SOURCE_PORTS.min + Math.floor(this.random() * span);
      const socket = createSocket({ type, ...(type === 'udp6' ? { ipv6Only: true } : {}) });
      try {
        await bind(socket, port, local);
        // RFC 5881 §5: "All BFD Control packets for a session MUST be sent with a TTL or Hop
        // Limit value of 255." (libuv sets IP_TTL or IPV6_UNICAST_HOPS by the socket's family.)
        socket.setTTL(BFD_TTL);
        return socket;
      } catch (error) {
        lastError = error;
        await closeSocket(socket);
      }
    }
    throw new BfdError(BfdErrorCode.socket, `no free BFD source port in ${BFD_SOURCE_PORTS.min}–${BFD_SOURCE_PORTS.max} on ${local}`, { cause: lastError });
  }
}
