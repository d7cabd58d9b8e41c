/** A peer's settings as the speaker takes them, and their checks. */
import { tryParseIp } from '../net/index.ts';
import { BfdError } from './bfd/errors.ts';
import { checkBfdConfig, type BfdConfig } from './bfd/session.ts';
import { BgpError, BgpErrorCode } from './errors.ts';
import type { FsmTimings } from './fsm.ts';
import type { AddressFamily } from './negotiate.ts';
import { checkTcpMd5Password } from './tcp-md5.ts';

export const DEFAULT_HOLD_TIME_SECONDS = 90;

export interface PeerConfig {
  readonly address: string;
  readonly asn: number;
  readonly port?: number;
  readonly localAddress?: string;
  /** Proposed hold time in seconds: 0 or 3..65535. Default 90. */
  readonly holdTimeSeconds?: number;
  /** Only wait for the peer to connect. */
  readonly passive?: boolean;
  /** RFC 2385 TCP MD5 password (1..80 bytes). */
  readonly password?: string;
  /** Families to offer. Default both. */
  readonly families?: readonly AddressFamily[];
  /** Next hops for routes that name none; default: our address on the session, if of that family. */
  readonly nextHop?: { readonly ipv4?: string; readonly ipv6?: string };
  /** RFC 4724: ask the peer to keep our routes this long while we restart. */
  readonly gracefulRestartSeconds?: number;
  readonly timings?: FsmTimings;
  /**
   * RFC 5880/5881 single-hop BFD with the peer, from our address on the session. When the BFD
   * session goes Down after having been Up, the BGP connection is dropped (RFC 5882 §4.3).
   * Not with `multihop`: single-hop BFD needs the peer one hop away.
   */
  readonly bfd?: BfdConfig;
  /**
   * eBGP only: the IP TTL (hop limit) of the session's packets, 2..255, for a router more than
   * one hop away. Without it eBGP goes with TTL 1 as routers do; iBGP with the kernel default.
   */
  readonly multihop?: number;
}

/** Throws BgpError(badPeerConfig) naming the peer (`key`, its canonical address) and the rule. */
export function checkPeerConfig(config: PeerConfig, key: string, localAsn: number): void {
  if (!Number.isInteger(config.asn) || config.asn < 1 || config.asn > 0xffffffff) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: asn ${config.asn} must be 1..4294967295`);
  const hold = config.holdTimeSeconds ?? DEFAULT_HOLD_TIME_SECONDS;
  const gr = config.gracefulRestartSeconds;
  if (gr !== undefined && (!Number.isInteger(gr) || gr < 1 || gr > 4095)) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: gracefulRestartSeconds ${gr} must be 1..4095 (12 bits, RFC 4724 §3)`);
  if (!Number.isInteger(hold) || (hold !== 0 && (hold < 3 || hold > 0xffff))) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: holdTimeSeconds ${hold} must be 0 or 3..65535`);
  for (const [family, text] of Object.entries(config.nextHop ?? {})) {
    if (tryParseIp(text)?.family !== (family === 'ipv4' ? 4 : 6)) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: nextHop.${family} "${text}" is not an ${family} address`);
  }
  if (config.bfd !== undefined) {
    try {
      checkBfdConfig(config.bfd);
    } catch (e) {
      if (e instanceof BfdError) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: ${e.message}`);
      throw e;
    }
  }
  const passwordProblem = config.password === undefined ? undefined : checkTcpMd5Password(config.password);
  if (passwordProblem !== undefined) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: ${passwordProblem}`);
  const ibgp = config.asn === localAsn;
  if (config.multihop !== undefined) {
    if (ibgp) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: multihop applies to eBGP peers only; an iBGP peer is reached over any number of hops`);
    if (!Number.isInteger(config.multihop) || config.multihop < 2 || config.multihop > 255) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: multihop ${config.multihop} must be a TTL 2..255`);
    if (config.bfd !== undefined) throw new BgpError(BgpErrorCode.badPeerConfig, `peer ${key}: bfd is single-hop only (RFC 5881) and cannot run with multihop`);
  }
}
