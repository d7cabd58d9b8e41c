// What `vipgate explain` is asked about and how it answers, shared by the agent's walk
// (api/explain.ts) and the cluster's (controller/cluster-explain.ts): a target, and a chain of
// links in the order traffic depends on them (docs/design/018-explain.md).
import { canonicalIp, tryParseIp } from '../net/index.ts';

export type LinkState = 'ok' | 'broken' | 'unknown';

/** One link of an explanation, named by the walk that made it. */
export interface ChainLink<Name extends string> {
  readonly link: Name;
  readonly state: LinkState;
  /** One plain sentence: what this link is, seen from where it was looked at. */
  readonly says: string;
  /** For a broken link: what to do about it. */
  readonly fix?: string;
}

/** A Service by key, a VIP, or one port of a VIP. */
export type ExplainTarget =
  | { readonly kind: 'service'; readonly key: string; readonly text: string }
  | { readonly kind: 'vip'; readonly address: string; readonly port?: number; readonly text: string };

/** `default/web`, `10.200.0.5`, `10.200.0.5:80`, `fd00:200::5`, `[fd00:200::5]:80`. */
export function parseTarget(text: string): ExplainTarget | { readonly error: string } {
  const t = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  const v4port = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(t);
  const [address, port] = bracketed !== null ? [bracketed[1]!, bracketed[2]] : v4port !== null ? [v4port[1]!, v4port[2]] : [t, undefined];
  if (tryParseIp(address) !== undefined) {
    const p = port === undefined ? undefined : Number(port);
    if (p !== undefined && (p < 1 || p > 65_535)) return { error: `${text}: the port must be 1–65535` };
    return { kind: 'vip', address: canonicalIp(address), ...(p === undefined ? {} : { port: p }), text: t };
  }
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(t)) return { kind: 'service', key: t, text: t };
  return { error: `${text}: expected namespace/name, a VIP (10.200.0.5, fd00:200::5) or VIP:port (10.200.0.5:80, [fd00:200::5]:80)` };
}
