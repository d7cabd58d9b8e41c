// A NETLINK_NETFILTER socket through libc (src/libc.ts): the only I/O of the netlink element
// path. Synchronous, like libnftables: the kernel handles a message sent to it inside the send
// call, so its answers are queued when send returns.
import { cInt, timeval, type Libc } from '../../../libc.ts';
import { Netlink, Socket } from './constants.ts';

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
    const ms = options.receiveTimeoutMs ?? 0;
    if (ms > 0) c.setsockopt(this.fd, Socket.SOL_SOCKET, Socket.SO_RCVTIMEO, timeval(ms), 16);
    // Best effort: without them errors echo whole messages and name no attribute.
    c.setsockopt(this.fd, Netlink.SOL_NETLINK, Netlink.NETLINK_CAP_ACK, cInt(1), 4);
    c.setsockopt(this.fd, Netlink.SOL_NETLINK, Netlink.NETLINK_EXT_ACK, cInt(1), 4);
    if (options.receiveBuffer !== undefined) this.setBuffer(Socket.SO_RCVBUFFORCE, Socket.SO_RCVBUF, options.receiveBuffer);
  }

  private setBuffer(force: number, plain: number, size: number): void {
    // FORCE passes net.core.[rw]mem_max (needs CAP_NET_ADMIN, which writing nftables needs too).
    if (this.c.setsockopt(this.fd, Socket.SOL_SOCKET, force, cInt(size), 4) !== 0) {
      this.c.setsockopt(this.fd, Socket.SOL_SOCKET, plain, cInt(size), 4);
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
