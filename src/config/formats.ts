import { NetError, parseCidr, parseIp, parseRange } from '../net/index.ts';
import { canonicalOrError } from './address-memo.ts';

/**
 * String formats the schema checks with `src/net` (one place for address math). Each returns
 * why the text is refused, or undefined when it is fine: the same function serves ajv (which
 * only wants yes/no) and the error message (which wants the reason).
 */
export interface StringFormat {
  readonly check: (text: string) => string | undefined;
  /** Shown after "expected". */
  readonly allowed: string;
}

function netReason(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    if (err instanceof NetError) return err.message;
    throw err;
  }
}

/** Splits "127.0.0.1:9470" / "[::1]:9470" into host and port, or says why it can't. */
export function splitHostPort(text: string): { host: string; port: number } | string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  if (match === null) return `"${text}" is not host:port (IPv6 hosts go in brackets)`;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return `"${text}" has port ${port}; ports are 1–65535`;
  const reason = netReason(() => parseIp(host));
  if (reason !== undefined) return reason;
  if (match[1] !== undefined && !host.includes(':')) return `"${text}" puts an IPv4 address in brackets`;
  return { host, port };
}

export const stringFormats = {
  ip: {
    check: (text) => {
      const result = canonicalOrError(text);
      return typeof result === 'string' ? undefined : result.message;
    },
    allowed: 'an IPv4 or IPv6 address (10.200.0.5, fd00:200::5)',
  },
  cidr: {
    check: (text) => netReason(() => parseCidr(text)),
    allowed: 'a CIDR with the host bits zero (10.200.0.0/16, fd00:200::/64)',
  },
  'pool-range': {
    check: (text) => netReason(() => parseRange(text)),
    allowed: 'a CIDR (10.200.0.0/16) or an inclusive range first-last (10.200.1.10-10.200.1.20)',
  },
  'interface-address': {
    check: (text) =>
      text.includes('/')
        ? netReason(() => parseCidr(text, { allowHostBits: true }))
        : `"${text}" has no subnet length`,
    allowed: 'an address with its subnet length (10.200.0.1/24, fd00:200::1/64)',
  },
  listen: {
    check: (text) => {
      const parsed = splitHostPort(text);
      return typeof parsed === 'string' ? parsed : undefined;
    },
    allowed: 'host:port with an IP address as host (127.0.0.1:9470, [::1]:9470)',
  },
  ifname: {
    check: (text) => {
      // The kernel's dev_valid_name(): IFNAMSIZ is 16 bytes with the NUL.
      if (Buffer.byteLength(text) > 15) return `"${text}" is longer than 15 bytes`;
      if (text === '' || text === '.' || text === '..') return `"${text}" is not a usable name`;
      if (/[/:\s]/.test(text)) return `"${text}" contains "/", ":" or white space`;
      return undefined;
    },
    allowed: 'a Linux interface name: 1–15 bytes, no "/", ":" or white space',
  },
} as const satisfies Record<string, StringFormat>;
export type StringFormatName = keyof typeof stringFormats;
