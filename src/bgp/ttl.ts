/**
 * The IP TTL (IPv6: hop limit) of a BGP session's packets. Routers send eBGP with TTL 1 unless
 * configured for multihop, so a session that would cross a router by accident fails instead of
 * running over a path nobody planned; `multihop: n` allows n hops. Node has no TTL setter for
 * TCP sockets, so it is set with setsockopt through the libc binding in tcp-md5.ts.
 */
import type { Socket } from 'node:net';
import type { ConnectFn } from './connection.ts';
import { BgpError, BgpErrorCode } from './errors.ts';
import type { BgpLogger } from './runtime.ts';
import { setIntSocketOption } from './tcp-md5.ts';

/** <netinet/in.h>, <linux/in6.h> */
export const TtlOption = {
  IPPROTO_IP: 0,
  IP_TTL: 2,
  IPPROTO_IPV6: 41,
  IPV6_UNICAST_HOPS: 16,
} as const;
const { IPPROTO_IP, IP_TTL, IPPROTO_IPV6, IPV6_UNICAST_HOPS } = TtlOption;

/** The TTL a session to this peer uses: TTL 1 for eBGP unless multihop; undefined (kernel default) for iBGP. */
export function sessionTtl(ibgp: boolean, multihop: number | undefined): number | undefined {
  if (multihop !== undefined) return multihop;
  return ibgp ? undefined : 1;
}

/** Sets the TTL on a raw socket fd of the given address family. */
export function setFdTtl(fd: number, family: 4 | 6, ttl: number): void {
  if (family === 4) {
    setIntSocketOption(fd, IPPROTO_IP, IP_TTL, ttl, 'setsockopt(IP_TTL)', BgpErrorCode.socketOption);
    return;
  }
  setIntSocketOption(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl, 'setsockopt(IPV6_UNICAST_HOPS)', BgpErrorCode.socketOption);
  // An IPv6 socket may carry IPv4 (a dual-stack listener's "::ffff:a.b.c.d" peers): Linux takes
  // their TTL from IP_TTL, which it accepts on IPv6 sockets too.
  setIntSocketOption(fd, IPPROTO_IP, IP_TTL, ttl, 'setsockopt(IP_TTL)', BgpErrorCode.socketOption);
}

/** The fd behind a connected net.Socket (Linux; undefined before connect or after close). */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return fd === undefined || fd < 0 ? undefined : fd;
}

/** Sets the TTL of a connected socket (the handshake already went with the kernel default). */
export function setSocketTtl(socket: Socket, ttl: number): void {
  const fd = socketFd(socket);
  if (fd === undefined) throw new BgpError(BgpErrorCode.socketOption, 'the socket has no fd (not connected?)');
  // A socket that connected to an IPv4 peer reports IPv4 addresses; a dual-stack one "::ffff:…" (handled above).
  setFdTtl(fd, socket.remoteFamily === 'IPv4' ? 4 : 6, ttl);
}

/** Sets the TTL on a connected socket; a failure is logged, not fatal (only multihop paths would notice). */
export function applyTtl(socket: Socket, ttl: number, log: BgpLogger): void {
  try {
    setSocketTtl(socket, ttl);
  } catch (e) {
    log.warn({ err: e instanceof Error ? e.message : String(e), ttl }, 'could not set the session TTL; the kernel default applies');
  }
}

/** A ConnectFn whose sockets get `ttl` once connected (Node cannot set it before the SYN). */
export function connectWithTtl(connect: ConnectFn, ttl: number, log: BgpLogger): ConnectFn {
  return (target) => {
    const result = connect(target);
    if (result instanceof Promise) {
      return result.then((socket) => {
        applyTtl(socket, ttl, log);
        return socket;
      });
    }
    // Registered before the session's own 'connect' listener, so the OPEN already has the TTL.
    result.once('connect', () => applyTtl(result, ttl, log));
    return result;
  };
}
