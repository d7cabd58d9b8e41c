/**
 * The speaker's TCP transport, apart from what is said over it: per peer, how to connect out
 * (TCP MD5 key before the SYN, TTL / multihop), and the passive listener, which carries every
 * peer's MD5 key and hands an accepted connection to the configured peer at its remote address.
 * The BGP session (session.ts) only sees a ConnectFn and accepted sockets.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { formatIp, tryParseIp, type IpAddress } from '../net/index.ts';
import { defaultConnect, type ConnectFn } from './connection.ts';
import type { PeerConfig } from './peer-config.ts';
import type { BgpLogger } from './runtime.ts';
import { serverFd, setTcpMd5Key, tcpMd5Connect } from './tcp-md5.ts';
import { applyTtl, connectWithTtl, sessionTtl, setFdTtl } from './ttl.ts';

/** An address as a socket reports it, parsed; undefined if there is none (not connected). */
export function socketAddress(address: string | undefined): IpAddress | undefined {
  if (address === undefined) return undefined;
  // Sockets report IPv4 peers on dual-stack listeners as "::ffff:a.b.c.d".
  return tryParseIp(address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address);
}

/** How the TCP connections of one peer are made. */
export interface PeerTransport {
  /** IP TTL of the session's packets; undefined: the kernel default. */
  readonly ttl: number | undefined;
  /** RFC 2385 key, on our connections and on the listener for this peer. */
  readonly password: string | undefined;
  /** Opens our connections; undefined: the session's default (plain TCP). */
  readonly connect: ConnectFn | undefined;
}

/**
 * The transport of a peer: TTL 1 for eBGP unless multihop, the kernel default for iBGP; with a
 * password, sockets made through libc so the key (and TTL) are set before the SYN; otherwise
 * `connect` (tests, or plain TCP) with the TTL applied once connected.
 */
export function peerTransport(config: PeerConfig, ibgp: boolean, connect: ConnectFn | undefined, log: BgpLogger): PeerTransport {
  const ttl = sessionTtl(ibgp, config.multihop);
  const password = config.password;
  if (password !== undefined) {
    return { ttl, password, connect: tcpMd5Connect(password, ttl === undefined ? {} : { beforeConnect: (fd, family) => setFdTtl(fd, family, ttl) }) };
  }
  return { ttl, password, connect: ttl === undefined ? connect : connectWithTtl(connect ?? defaultConnect, ttl, log) };
}

/** What the listener needs of a configured peer. */
export interface ListeningPeer {
  readonly transport: PeerTransport;
  readonly log: BgpLogger;
  readonly session: { accept(socket: Socket): void };
}

/** Why the listener closed a connection at once (`vipgate_bgp_connections_rejected_total{reason}`). */
export const RejectReason = {
  /** The remote address is not a configured peer. */
  unconfiguredPeer: 'unconfigured-peer',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export interface BgpListenerOptions {
  /** The configured peers by canonical address (formatIp), read at each connection. */
  readonly peers: ReadonlyMap<string, ListeningPeer>;
  readonly log: BgpLogger;
  /** Called for each connection closed at once, with why. */
  readonly onReject?: (reason: RejectReason, remote: string | undefined) => void;
  /** For "::": IPv6 only (an IPv4 wildcard listener on the same port takes IPv4). */
  readonly ipv6Only?: boolean;
}

/** The passive side: accepts connections from configured peers only. */
export class BgpListener {
  private readonly server: Server;
  private readonly family: 4 | 6 | undefined;
  private failure: string | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: BgpListenerOptions,
  ) {
    const family = tryParseIp(host)?.family;
    // A dual-stack "::" socket takes both families; its keys would need v4-mapped addresses.
    this.family = host === '::' && options.ipv6Only !== true ? undefined : family;
    this.server = createServer((socket) => this.onConnection(socket));
    this.server.on('error', (err) => {
      this.failure = err.message;
      this.options.log.warn({ err: err.message, host, port }, 'BGP listener failed');
    });
    this.server.listen({ port, host, ...(options.ipv6Only === true ? { ipv6Only: true } : {}) }, () => {
      this.failure = undefined;
      // Peers added before the listener was up get their keys now.
      for (const [address, peer] of this.options.peers) this.setKey(address, peer.transport);
    });
  }

  /** Where it is bound, once it is (port 0 picks a free one). */
  get address(): { readonly address: string; readonly port: number } | undefined {
    const a = this.server.address();
    return a === null || typeof a === 'string' ? undefined : { address: a.address, port: a.port };
  }

  /** Why it is not listening (e.g. "listen EADDRINUSE …"), if it failed. */
  get error(): string | undefined {
    return this.failure;
  }

  /** A peer was added: its MD5 key goes on the listening socket (now if it is up, else once it is). */
  addPeer(address: string, transport: PeerTransport): void {
    if (this.server.listening) this.setKey(address, transport);
  }

  /** Stops accepting; resolves once the listener is closed. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** RFC 2385 on the listening socket: one key per peer address, of the socket's family. */
  private setKey(address: string, transport: PeerTransport): void {
    if (transport.password === undefined) return;
    if (this.family !== undefined && tryParseIp(address)?.family !== this.family) return;
    try {
      setTcpMd5Key(serverFd(this.server), address, transport.password);
    } catch (e) {
      this.options.log.warn({ peer: address, err: e instanceof Error ? e.message : String(e) }, 'could not set the TCP MD5 key on the BGP listener');
    }
  }

  private onConnection(socket: Socket): void {
    const from = socketAddress(socket.remoteAddress);
    const peer = from === undefined ? undefined : this.options.peers.get(formatIp(from));
    if (peer === undefined) {
      this.options.log.warn({ remote: socket.remoteAddress, reason: RejectReason.unconfiguredPeer }, 'connection from an address that is not a configured peer; closed');
      this.options.onReject?.(RejectReason.unconfiguredPeer, socket.remoteAddress);
      socket.destroy();
      return;
    }
    if (peer.transport.ttl !== undefined) applyTtl(socket, peer.transport.ttl, peer.log);
    peer.session.accept(socket);
  }
}
