// The C library through koffi, for what Node cannot do itself: sockets Node has no API for
// (AF_PACKET, NETLINK_NETFILTER), and options it cannot set before a connect (TCP_MD5SIG).
// libc.so.6 is loaded once per process, on first use, so that importing this file costs
// nothing and a machine without koffi fails only where libc is really needed.
import { createRequire } from 'node:module';
import { endianness } from 'node:os';

/** sys/socket.h, asm-generic/socket.h, asm-generic/errno.h, poll.h (Linux; the ABI never changes). */
export const Sys = {
  AF_INET: 2,
  AF_INET6: 10,
  AF_NETLINK: 16,
  AF_PACKET: 17,
  SOCK_STREAM: 1,
  SOCK_RAW: 3,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_ERROR: 4,
  SO_RCVTIMEO: 20,
  MSG_DONTWAIT: 0x40,
  EINTR: 4,
  EAGAIN: 11,
  EINPROGRESS: 115,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
} as const;

/**
 * The calls vipgate makes, typed. Each returns what the C function returns (-1 on failure,
 * then `errno()` says why); send and recv return ssize_t, which koffi spells intptr_t.
 */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, address: Uint8Array, length: number): number;
  connect(fd: number, address: Uint8Array, length: number): number;
  ioctl(fd: number, request: number, argument: Uint8Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, length: number): number;
  /** `length` is a socklen_t in and out (4 bytes, host order). */
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, length: Uint8Array): number;
  /** `fds` is an array of struct pollfd (8 bytes each). */
  poll(fds: Uint8Array, count: number, timeoutMs: number): number;
  send(fd: number, buffer: Uint8Array, length: number, flags: number): number;
  recv(fd: number, buffer: Uint8Array, length: number, flags: number): number;
  close(fd: number): number;
  /** errno of the last failed call (read it before the next one). */
  errno(): number;
  strerror(errno: number): string;
}

type Fn = (...args: unknown[]) => unknown;

let loaded: Libc | undefined;

/** libc, loaded on the first call. Throws when koffi or libc.so.6 can't be loaded. */
export function libc(): Libc {
  if (loaded !== undefined) return loaded;
  const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): { func(signature: string): Fn }; errno(): number };
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int, int, int)');
  const bind = lib.func('int bind(int, const void *, uint32_t)');
  const connect = lib.func('int connect(int, const void *, uint32_t)');
  const ioctl = lib.func('int ioctl(int, unsigned long, void *)');
  const setsockopt = lib.func('int setsockopt(int, int, int, const void *, uint32_t)');
  const getsockopt = lib.func('int getsockopt(int, int, int, void *, void *)');
  const poll = lib.func('int poll(void *, unsigned long, int)');
  // koffi has no ssize_t; intptr_t has its size.
  const send = lib.func('intptr_t send(int, const void *, size_t, int)');
  const recv = lib.func('intptr_t recv(int, void *, size_t, int)');
  const close = lib.func('int close(int)');
  const strerror = lib.func('const char *strerror(int)');
  loaded = {
    socket: (d, t, p) => socket(d, t, p) as number,
    bind: (f, a, l) => bind(f, a, l) as number,
    connect: (f, a, l) => connect(f, a, l) as number,
    ioctl: (f, r, a) => ioctl(f, r, a) as number,
    setsockopt: (f, l, n, v, len) => setsockopt(f, l, n, v, len) as number,
    getsockopt: (f, l, n, v, len) => getsockopt(f, l, n, v, len) as number,
    poll: (f, c, t) => poll(f, c, t) as number,
    send: (f, b, len, fl) => Number(send(f, b, len, fl)),
    recv: (f, b, len, fl) => Number(recv(f, b, len, fl)),
    close: (f) => close(f) as number,
    errno: () => koffi.errno(),
    strerror: (e) => strerror(e) as string,
  };
  return loaded;
}

/** `No such device (errno 19)`: strerror's text and the number, of the last failed call by default. */
export function errnoText(errno: number = libc().errno()): string {
  return `${libc().strerror(errno)} (errno ${errno})`;
}

const LE = endianness() === 'LE';

/** A C int in host byte order, for setsockopt. */
export function cInt(value: number): Buffer {
  const b = Buffer.alloc(4);
  if (LE) b.writeInt32LE(value);
  else b.writeInt32BE(value);
  return b;
}

/** Reads a C int in host byte order. */
export function readCInt(b: Uint8Array, at = 0): number {
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return LE ? view.readInt32LE(at) : view.readInt32BE(at);
}

/** struct timeval (64-bit Linux: two 8-byte fields) of `ms`, for SO_RCVTIMEO. */
export function timeval(ms: number): Buffer {
  const b = Buffer.alloc(16);
  const sec = BigInt(Math.floor(ms / 1000));
  const usec = BigInt(ms % 1000) * 1000n;
  if (LE) {
    b.writeBigInt64LE(sec, 0);
    b.writeBigInt64LE(usec, 8);
  } else {
    b.writeBigInt64BE(sec, 0);
    b.writeBigInt64BE(usec, 8);
  }
  return b;
}
