// A NETLINK_NETFILTER socket through libc (koffi): the only I/O of the netlink element path,
// shared with the ruleset generation reader. Synchronous, like libnftables: the kernel handles
// a message sent to it inside the send call, so its answers are queued when send returns.
import { createRequire } from 'node:module';
import { HOST_LE } from './attrs.ts';
import { Netlink, Socket } from './constants.ts';

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  send(fd: number, buffer: Buffer, length: number, flags: number): number;
  recv(fd: number, buffer: Buffer, length: number, flags: number): number;
  close(fd: number): number;
  /** errno of the last failed call. */
  errno(): number;
}

interface KoffiLibrary {
  func(signature: string): (...args: unknown[]) => unknown;
}

let libc: Libc | undefined;

/** libc through koffi, loaded once per process. Throws when koffi or libc can't be loaded. */
export function loadLibc(): Libc {
  if (libc !== undefined) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): KoffiLibrary; errno(): number };
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int, int, int)');
  const setsockopt = lib.func('int setsockopt(int, int, int, const void *, uint32_t)');
  // koffi has no ssize_t; intptr_t has its size.
  const send = lib.func('intptr_t send(int, const void *, size_t, int)');
  const recv = lib.func('intptr_t recv(int, void *, size_t, int)');
  const close = lib.func('int close(int)');
  libc = {
    socket: (d, t, p) => socket(d, t, p) as number,
    setsockopt: (f, l, n, v, len) => setsockopt(f, l, n, v, len) as number,
    send: (f, b, len, fl) => Number(send(f, b, len, fl)),
    recv: (f, b, len, fl) => Number(recv(f, b, len, fl)),
    close: (f) => close(f) as number,
    errno: () => koffi.errno(),
  };
  return libc;
}

/** Thrown by NetfilterSocket with the errno of the failed call. */
export class SocketError extends Error {
  override readonly name = 'SocketError';
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

function int(value: number): Buffer {
  const b = Buffer.alloc(4);
  if (HOST_LE) b.writeInt32LE(value);
  else b.writeInt32BE(value);
  return b;
}

/** A NETLINK_NETFILTER socket in the network namespace of this process at the time it is made. */
export class NetfilterSocket {
  private fd: number;
  private sendBuffer = 0;
  constructor(
    private readonly c: Libc,
    options: { readonly receiveTimeoutMs?: number; readonly receiveBuffer?: number } = {},
  ) {
    this.fd = c.socket(Netlink.AF_NETLINK, Netlink.SOCK_RAW | Netlink.SOCK_CLOEXEC, Netlink.NETLINK_NETFILTER);
    if (this.fd < 0) throw new SocketError(c.errno(), 'socket(AF_NETLINK, NETLINK_NETFILTER) failed');
    const timeout = Buffer.alloc(16); // struct timeval on 64-bit Linux
    const ms = options.receiveTimeoutMs ?? 0;
    const usec = BigInt(ms % 1000) * 1000n;
    const sec = BigInt(Math.floor(ms / 1000));
    if (HOST_LE) {
      timeout.writeBigInt64LE(sec, 0);
      timeout.writeBigInt64LE(usec, 8);
    } else {
      timeout.writeBigInt64BE(sec, 0);
      timeout.writeBigInt64BE(usec, 8);
    }
    if (ms > 0) c.setsockopt(this.fd, Socket.SOL_SOCKET, Socket.SO_RCVTIMEO, timeout, timeout.length);
    // Best effort: without them errors echo whole messages and name no attribute.
    c.setsockopt(this.fd, Netlink.SOL_NETLINK, Netlink.NETLINK_CAP_ACK, int(1), 4);
    c.setsockopt(this.fd, Netlink.SOL_NETLINK, Netlink.NETLINK_EXT_ACK, int(1), 4);
    if (options.receiveBuffer !== undefined) this.setBuffer(Socket.SO_RCVBUFFORCE, Socket.SO_RCVBUF, options.receiveBuffer);
  }

  private setBuffer(force: number, plain: number, size: number): void {
    // FORCE passes net.core.[rw]mem_max (needs CAP_NET_ADMIN, which writing nftables needs too).
    if (this.c.setsockopt(this.fd, Socket.SOL_SOCKET, force, int(size), 4) !== 0) {
      this.c.setsockopt(this.fd, Socket.SOL_SOCKET, plain, int(size), 4);
    }
  }

  /**
   * Sends one datagram. A netlink datagram must fit the send buffer (the kernel refuses
   * more than sk_sndbuf - 32 bytes with EMSGSIZE), so the buffer is raised to fit a large
   * batch first: the batch must be one datagram to be one transaction.
   */
  send(bytes: Buffer): void {
    if (this.fd < 0) throw new SocketError(9, 'the netlink socket is closed');
    if (bytes.length + 4096 > this.sendBuffer) {
      // The kernel doubles the value it is given; ask for what is needed plus headroom.
      this.sendBuffer = Math.max(bytes.length + 65536, 1 << 20);
      this.setBuffer(Socket.SO_SNDBUFFORCE, Socket.SO_SNDBUF, this.sendBuffer);
    }
    const sent = this.c.send(this.fd, bytes, bytes.length, 0);
    if (sent < 0) throw new SocketError(this.c.errno(), `sending ${bytes.length} bytes to nfnetlink failed`);
    if (sent !== bytes.length) throw new SocketError(0, `nfnetlink took ${sent} of ${bytes.length} bytes`);
  }

  /**
   * Receives one datagram into `into`; its length, or 0 when nothing is queued (`wait`
   * false) or the receive timeout passed. Throws on other errors (ENOBUFS: answers were lost).
   */
  receive(into: Buffer, wait: boolean): number {
    for (;;) {
      const got = this.c.recv(this.fd, into, into.length, wait ? 0 : Socket.MSG_DONTWAIT);
      if (got >= 0) return got;
      const errno = this.c.errno();
      if (errno === Socket.EINTR) continue;
      if (errno === Socket.EAGAIN) return 0;
      throw new SocketError(errno, 'receiving from nfnetlink failed');
    }
  }

  close(): void {
    if (this.fd >= 0) this.c.close(this.fd);
    this.fd = -1;
  }
}
