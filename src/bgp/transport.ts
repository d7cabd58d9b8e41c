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

/** The passive side: accepts connections from configured peers only. */
export class BgpListener {
  private readonly server: Server;

  /** `peers`: the configured peers by canonical address (formatIp), read at each connection. */
  constructor(
    host: string,
    port: number,
    private readonly peers: ReadonlyMap<string, ListeningPeer>,
    private readonly log: BgpLogger,
  ) {
    this.server = createServer((socket) => this.onConnection(socket));
    this.server.on('error', (err) => this.log.warn({ err: err.message }, 'BGP listener failed'));
    this.server.listen(port, host, () => {
      // Peers added before the listener was up get their keys now.
      for (const [address, peer] of this.peers) {
        if (peer.transport.password !== undefined) setTcpMd5Key(serverFd(this.server), address, peer.transport.password);
      }
    });
  }

  /** Where it is bound, once it is (port 0 picks a free one). */
  get address(): { readonly address: string; readonly port: number } | undefined {
    const a = this.server.address();
    return a === null || typeof a === 'string' ? undefined : { address: a.address, port: a.port };
  }

  /** A peer was added: its MD5 key goes on the listening socket (now if it is up, else once it is). */
  addPeer(address: string, transport: PeerTransport): void {
    if (transport.password !== undefined && this.server.listening) setTcpMd5Key(serverFd(this.server), address, transport.password);
  }

  /** Stops accepting; resolves once the listener is closed. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    const from = socketAddress(socket.remoteAddress);
    const peer = from === undefined ? undefined : this.peers.get(formatIp(from));
    if (peer === undefined) {
      this.log.warn({ remote: socket.remoteAddress }, 'connection from an address that is not a configured peer; closed');
      socket.destroy();
      return;
    }
    if (peer.transport.ttl !== undefined) applyTtl(socket, peer.transport.ttl, peer.log);
    peer.session.accept(socket);
  }
}
