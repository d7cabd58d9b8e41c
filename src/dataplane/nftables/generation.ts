// The nftables ruleset generation of this process's network namespace, asked over netlink
// (NFT_MSG_GETGEN). The kernel increments it on every committed nftables transaction in the
// namespace — ours, an operator's `nft`, another program's — so an unchanged generation means
// an unchanged ruleset, and a drift check can skip reading 100k elements back.
import { endianness } from 'node:os';
import { libc, timeval, type Libc } from '../../libc.ts';
import { Netlink, Nfnl, Socket } from './netlink/constants.ts';

const { AF_NETLINK, SOCK_RAW, SOCK_CLOEXEC, NETLINK_NETFILTER, NLM_F_REQUEST, NLMSG_ERROR, NLMSG_HDRLEN, NLA_TYPE_MASK } = Netlink;
const { NFNL_SUBSYS_NFTABLES, NFGENMSG_LEN } = Nfnl;
const { SOL_SOCKET, SO_RCVTIMEO } = Socket;
// linux/netfilter/nf_tables.h
const NFT_MSG_NEWGEN = 15;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;

const align4 = (n: number): number => (n + 3) & ~3;

/** Netlink headers are in host byte order; attribute payloads here are big-endian. */
const LE = endianness() === 'LE';
const u32 = (b: Buffer, at: number): number => (LE ? b.readUInt32LE(at) : b.readUInt32BE(at));
const u16 = (b: Buffer, at: number): number => (LE ? b.readUInt16LE(at) : b.readUInt16BE(at));

/** The GETGEN request: nlmsghdr + nfgenmsg (AF_UNSPEC, version 0, res_id 0), no attributes. */
export function encodeGetGeneration(seq: number): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + NFGENMSG_LEN);
  const w32 = (v: number, at: number): number => (LE ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const w16 = (v: number, at: number): number => (LE ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  w32(b.length, 0);
  w16((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, 4);
  w16(NLM_F_REQUEST, 6);
  w32(seq >>> 0, 8);
  w32(0, 12); // port id: the kernel fills it in
  return b; // nfgenmsg stays zero
}

/**
 * The generation in a reply to encodeGetGeneration(seq), or undefined when the reply is an
 * error, is for another request, or is cut short. Never throws on malformed bytes.
 */
export function decodeGeneration(reply: Buffer, seq: number): number | undefined {
  for (let at = 0; at + NLMSG_HDRLEN <= reply.length; ) {
    const length = u32(reply, at);
    if (length < NLMSG_HDRLEN || at + length > reply.length) return undefined;
    const type = u16(reply, at + 4);
    if (u32(reply, at + 8) === seq >>> 0) {
      if (type === NLMSG_ERROR) return undefined;
      if (type === ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
        for (let a = at + NLMSG_HDRLEN + NFGENMSG_LEN; a + 4 <= at + length; ) {
          const attrLength = u16(reply, a);
          if (attrLength < 4 || a + attrLength > at + length) return undefined;
          if ((u16(reply, a + 2) & NLA_TYPE_MASK) === NFTA_GEN_ID && attrLength >= 8) return reply.readUInt32BE(a + 4);
          a += align4(attrLength);
        }
        return undefined;
      }
    }
    at += align4(length);
  }
  return undefined;
}

/**
 * A reader of the ruleset generation of this process's network namespace; it returns
 * undefined whenever it can't tell (no koffi, a refused socket, a timeout), and callers then
 * read the ruleset back in full. Synchronous: one 20-byte request, one small reply.
 */
export function netlinkGeneration(): () => number | undefined {
  let c: Libc | undefined | null;
  let seq = 0;
  return () => {
    if (c === null) return undefined;
    if (c === undefined) {
      try {
        c = libc();
      } catch {
        c = null;
        return undefined;
      }
    }
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) return undefined;
    try {
      // A reply is immediate; the timeout only keeps a broken kernel from blocking the loop.
      c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval(200), 16);
      seq = (seq + 1) >>> 0;
      const request = encodeGetGeneration(seq);
      if (c.send(fd, request, request.length, 0) !== request.length) return undefined;
      const reply = Buffer.alloc(8192);
      const got = c.recv(fd, reply, reply.length, 0);
      return got > 0 ? decodeGeneration(reply.subarray(0, got), seq) : undefined;
    } finally {
      c.close(fd);
    }
  };
}
