/**
 * RFC 2385 TCP MD5 signatures. Node cannot set TCP_MD5SIG, and the key must be on the socket
 * before its SYN, so the socket is made with libc (through koffi): socket(), setsockopt(), a
 * non-blocking connect(), then handed to Node as `new net.Socket({ fd })` once connected.
 * Completion is polled with poll(2) at timeout 0 so that no thread ever blocks in connect().
 */
import { Socket, type Server } from 'node:net';
import { endianness } from 'node:os';
import { cInt, errnoText, libc, readCInt, Sys } from '../libc.ts';
import { ipToBytes, tryParseIp, type IpAddress } from '../net/index.ts';
import { BgpError, BgpErrorCode } from './errors.ts';
import type { ConnectTarget } from './connection.ts';

/** linux/tcp.h */
const TCP_MD5SIG = 14;
const TCP_MD5SIG_MAXKEYLEN = 80;
/** sizeof(struct tcp_md5sig): sockaddr_storage (128) + flags, prefixlen, keylen, ifindex (8) + key (80). */
const TCP_MD5SIG_SIZE = 216;
const { AF_INET, AF_INET6, SOCK_STREAM, SOCK_NONBLOCK, SOCK_CLOEXEC, SOL_SOCKET, SO_ERROR, EINPROGRESS, POLLOUT, POLLERR, POLLHUP } = Sys;
const IPPROTO_TCP = 6;

const LE = endianness() === 'LE';

/** getsockopt of an int value (tests read IP_TTL back with it). */
export function getIntSocketOption(fd: number, level: number, name: number): number {
  const value = cInt(0);
  if (libc().getsockopt(fd, level, name, value, cInt(4)) !== 0) throw fail(`getsockopt(${level}, ${name})`);
  return readCInt(value);
}

/**
 * setsockopt with an int value (IP_TTL and the like); throws BgpError(code) naming what failed.
 * Shared with ttl.ts.
 */
export function setIntSocketOption(fd: number, level: number, name: number, value: number, what: string, code: BgpErrorCode): void {
  if (libc().setsockopt(fd, level, name, cInt(value), 4) !== 0) throw new BgpError(code, `${what}: ${errnoText()}`);
}

/** struct sockaddr_in / sockaddr_in6. sa_family is in host order, the port in network order. */
function sockaddr(address: IpAddress, port: number): Uint8Array {
  const out = Buffer.alloc(address.family === 4 ? 16 : 28);
  if (LE) out.writeUInt16LE(address.family === 4 ? AF_INET : AF_INET6, 0);
  else out.writeUInt16BE(address.family === 4 ? AF_INET : AF_INET6, 0);
  out.writeUInt16BE(port, 2);
  out.set(ipToBytes(address), address.family === 4 ? 4 : 8);
  return out;
}

function md5sig(peer: IpAddress, password: string): Uint8Array {
  const key = Buffer.from(password, 'utf8');
  const out = Buffer.alloc(TCP_MD5SIG_SIZE);
  out.set(sockaddr(peer, 0), 0);
  if (LE) out.writeUInt16LE(key.length, 130);
  else out.writeUInt16BE(key.length, 130);
  out.set(key, 136);
  return out;
}

/** The failure of the libc call just made. */
function fail(what: string): BgpError {
  return new BgpError(BgpErrorCode.tcpMd5, `${what}: ${errnoText()}`);
}

/** Checks a password is usable as a TCP MD5 key (1..80 bytes, RFC 2385 / linux/tcp.h). */
export function checkTcpMd5Password(password: string): string | undefined {
  const length = Buffer.byteLength(password, 'utf8');
  return length >= 1 && length <= TCP_MD5SIG_MAXKEYLEN ? undefined : `a TCP MD5 password has 1..${TCP_MD5SIG_MAXKEYLEN} bytes; this one has ${length}`;
}

/** Sets the key used with `peer` on a socket (a listening one accepts only signed SYNs from it). */
export function setTcpMd5Key(fd: number, peer: string, password: string): void {
  const c = libc();
  const address = tryParseIp(peer);
  if (address === undefined) throw new BgpError(BgpErrorCode.tcpMd5, `"${peer}" is not an IP address`);
  const sig = md5sig(address, password);
  if (c.setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, sig, sig.length) !== 0) throw fail(`setsockopt(TCP_MD5SIG) for ${peer}`);
}

/** The fd of a listening net.Server (Linux), for setTcpMd5Key. */
export function serverFd(server: Server): number {
  const handle = (server as unknown as { _handle?: { fd?: number } })._handle;
  if (handle?.fd === undefined || handle.fd < 0) throw new BgpError(BgpErrorCode.tcpMd5, 'the server is not listening (no fd)');
  return handle.fd;
}

export interface TcpMd5ConnectOptions {
  /** Runs on the new socket's fd before connect() (the speaker sets the TTL here, ttl.ts). */
  readonly beforeConnect?: (fd: number, family: 4 | 6) => void;
  /** Give up after this long (the kernel would retry SYNs for minutes). Default 10 s. */
  readonly timeoutMs?: number;
  /** How often to check whether the connection completed. Default 20 ms. */
  readonly pollMs?: number;
}

/** A ConnectFn (for Session/Speaker) whose connections carry RFC 2385 signatures with `password`. */
export function tcpMd5Connect(password: string, options: TcpMd5ConnectOptions = {}): (target: ConnectTarget) => Promise<Socket> {
  const problem = checkTcpMd5Password(password);
  if (problem !== undefined) throw new BgpError(BgpErrorCode.tcpMd5, problem);
  return (target: ConnectTarget) => connectSigned(target, password, options.timeoutMs ?? 10_000, options.pollMs ?? 20, options.beforeConnect);
}

async function connectSigned(target: ConnectTarget, password: string, timeoutMs: number, pollMs: number, beforeConnect: ((fd: number, family: 4 | 6) => void) | undefined): Promise<Socket> {
  const c = libc();
  const peer = tryParseIp(target.host);
  if (peer === undefined) throw new BgpError(BgpErrorCode.tcpMd5, `"${target.host}" is not an IP address`);
  const fd = c.socket(peer.family === 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail('socket()');
  let handedOver = false;
  try {
    const sig = md5sig(peer, password);
    if (c.setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, sig, sig.length) !== 0) throw fail('setsockopt(TCP_MD5SIG)');
    beforeConnect?.(fd, peer.family);
    if (target.localAddress !== undefined) {
      const local = tryParseIp(target.localAddress);
      if (local?.family !== peer.family) throw new BgpError(BgpErrorCode.tcpMd5, `local address ${target.localAddress} is not of the peer's family`);
      const addr = sockaddr(local, 0);
      if (c.bind(fd, addr, addr.length) !== 0) throw fail(`bind(${target.localAddress})`);
    }
    const addr = sockaddr(peer, target.port);
    if (c.connect(fd, addr, addr.length) !== 0 && c.errno() !== EINPROGRESS) throw fail(`connect(${target.host}:${target.port})`);
    const pollfd = Buffer.alloc(8);
    pollfd.writeInt32LE(fd, 0);
    pollfd.writeInt16LE(POLLOUT, 4);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      pollfd.writeInt16LE(0, 6);
      if (c.poll(pollfd, 1, 0) > 0 && (pollfd.readInt16LE(6) & (POLLOUT | POLLERR | POLLHUP)) !== 0) break;
      if (target.signal?.aborted === true) throw new BgpError(BgpErrorCode.tcpMd5, `connect(${target.host}:${target.port}) abandoned`);
      if (Date.now() > deadline) throw new BgpError(BgpErrorCode.tcpMd5, `connect(${target.host}:${target.port}) timed out after ${timeoutMs} ms (a password mismatch looks like this)`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    const value = cInt(0);
    if (c.getsockopt(fd, SOL_SOCKET, SO_ERROR, value, cInt(4)) !== 0) throw fail('getsockopt(SO_ERROR)');
    const error = readCInt(value);
    if (error !== 0) throw new BgpError(BgpErrorCode.tcpMd5, `connect(${target.host}:${target.port}): ${c.strerror(error)}`);
    const socket = new Socket({ fd, readable: true, writable: true });
    handedOver = true;
    return socket;
  } finally {
    if (!handedOver) c.close(fd);
  }
}
