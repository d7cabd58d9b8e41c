/**
 * Why a TCP connection to a peer failed, in words an operator can act on (`vipgate bgp peers`,
 * the log, the status API). Socket errors arrive as errno codes (Node's `code`) or, from the
 * TCP MD5 connect through libc, as strerror text; both map to the same sentences.
 */

/** `10.10.12.1:179`, `[fd00:12::1]:179`. */
export function endpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const BY_CODE: Readonly<Record<string, (host: string, port: number) => string>> = {
  ECONNREFUSED: (h, p) => `connection refused by ${endpoint(h, p)} (nothing listens there, or the router has no neighbor configured for this address)`,
  ETIMEDOUT: (h, p) => `no answer from ${endpoint(h, p)} (connection timed out)`,
  EHOSTUNREACH: (h) => `no route to host ${h} (host unreachable)`,
  ENETUNREACH: (h) => `no route to ${h} (network unreachable)`,
  ECONNRESET: (h, p) => `connection reset by ${endpoint(h, p)}`,
  EPIPE: (h, p) => `connection to ${endpoint(h, p)} broke while sending (the peer closed it)`,
  EADDRNOTAVAIL: (h) => `the local address for ${h} is not configured on this node`,
};

/** strerror(3) texts of the same errors (glibc), for errors that carry no `code`. */
const BY_STRERROR: readonly [RegExp, string][] = [
  [/connection refused/i, 'ECONNREFUSED'],
  [/timed out/i, 'ETIMEDOUT'],
  [/no route to host/i, 'EHOSTUNREACH'],
  [/network is unreachable/i, 'ENETUNREACH'],
  [/connection reset/i, 'ECONNRESET'],
  [/cannot assign requested address/i, 'EADDRNOTAVAIL'],
];

/** "connection refused by 10.10.12.1:179 (…)"; unknown errors keep their own message. */
export function describeConnectionError(error: unknown, host: string, port: number): string {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const code = typeof e?.code === 'string' && e.code in BY_CODE ? e.code : BY_STRERROR.find(([re]) => re.test(message))?.[1];
  const words = code === undefined ? undefined : BY_CODE[code];
  return words === undefined ? `tcp ${endpoint(host, port)}: ${message}` : words(host, port);
}

/**
 * A connect attempt that got no answer at all: every SYN dropped. With TCP MD5 the kernel drops
 * segments whose signature is wrong or missing, so a password mismatch looks exactly like this.
 */
export function noAnswerText(host: string, port: number, seconds: number): string {
  return `no answer from ${endpoint(host, port)} in ${seconds} s (wrong TCP MD5 password on either side, or a firewall)`;
}
