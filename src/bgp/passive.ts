/**
 * The speaker's listening sockets: passive peers (`passive: true`) wait for the router to
 * connect, so each needs a listener on its local address and port. Peers sharing an address and
 * port share one listener; a listener no passive peer needs is closed. A listener accepts any
 * configured peer (an active one that also connects in meets RFC 4271 §6.8 collision handling in
 * its session) and closes connections from other addresses at once, counting them.
 */
import { parseIp } from '../net/index.ts';
import type { PeerConfig } from './peer-config.ts';
import type { BgpLogger } from './runtime.ts';
import { BGP_PORT } from './session.ts';
import { BgpListener, type ListeningPeer, type PeerTransport, type RejectReason } from './transport.ts';

/** A configured peer as the listeners see it. */
export interface PassivePeer extends ListeningPeer {
  readonly config: PeerConfig;
}

/** Where a passive peer is waited for: its localAddress (else the wildcard of its family) and its port. */
export interface Bind {
  readonly host: string;
  readonly port: number;
  readonly ipv6Only: boolean;
}

export function passiveBind(config: PeerConfig): Bind {
  const port = config.port ?? BGP_PORT;
  if (config.localAddress !== undefined) return { host: config.localAddress, port, ipv6Only: false };
  // One wildcard per family, so that IPv4 and IPv6 peers can each have theirs on port 179.
  return parseIp(config.address).family === 4 ? { host: '0.0.0.0', port, ipv6Only: false } : { host: '::', port, ipv6Only: true };
}

const bindKey = (b: Bind): string => `${b.host} ${b.port}`;

function where(b: Bind): string {
  if (b.host === '0.0.0.0' || b.host === '::') return `port ${b.port} (any local address)`;
  return b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

export class PassiveListeners {
  private readonly byBind = new Map<string, BgpListener>(); // "host port" → its listener
  private readonly rejected = new Map<RejectReason, number>(); // why → connections closed at once
  /** `shared`: one listener given to the speaker (`listen`), which every passive peer then uses. */
  private readonly shared: BgpListener | undefined;
  private closed = false;

  constructor(
    private readonly peers: ReadonlyMap<string, PassivePeer>,
    private readonly log: BgpLogger,
    shared?: { readonly host: string; readonly port: number },
  ) {
    this.shared = shared === undefined ? undefined : this.open(shared.host, shared.port, false);
  }

  /** Where the shared listener is bound, once it is. */
  get sharedAddress(): { readonly address: string; readonly port: number } | undefined {
    return this.shared?.address;
  }

  /** Connections closed at once since the speaker started, by reason. */
  get rejectedConnections(): ReadonlyMap<RejectReason, number> {
    return this.rejected;
  }

  /** Opens the listeners the passive peers need now and closes the ones none needs any more. */
  async sync(): Promise<void> {
    if (this.closed || this.shared !== undefined) return;
    const wanted = new Map<string, Bind>();
    for (const peer of this.peers.values()) {
      if (peer.config.passive !== true) continue;
      const bind = passiveBind(peer.config);
      wanted.set(bindKey(bind), bind);
    }
    const gone: Promise<void>[] = [];
    for (const [key, listener] of this.byBind) {
      if (wanted.has(key)) continue;
      this.byBind.delete(key);
      gone.push(listener.close());
    }
    for (const [key, bind] of wanted) {
      if (this.byBind.has(key)) continue;
      this.log.info({ host: bind.host, port: bind.port }, 'listening for passive BGP peers');
      this.byBind.set(key, this.open(bind.host, bind.port, bind.ipv6Only));
    }
    await Promise.all(gone);
  }

  /** A peer was added: its MD5 key goes on every listener (each takes the keys of its family). */
  addPeer(address: string, transport: PeerTransport): void {
    this.shared?.addPeer(address, transport);
    for (const listener of this.byBind.values()) listener.addPeer(address, transport);
  }

  /** Why a passive peer is not Established, for operators: whom we wait for, where, and what failed. */
  waiting(address: string, config: PeerConfig, lastError: string | undefined): string {
    const bind = passiveBind(config);
    const listener = this.shared ?? this.byBind.get(bindKey(bind));
    // The port as bound (a configured 0 picks one).
    const at = where({ ...bind, ...(listener === undefined ? {} : { host: listener.host, port: listener.address?.port ?? listener.port }) });
    if (listener?.error !== undefined) return `passive: cannot listen on ${at}: ${listener.error}`;
    return `passive: waiting for ${address} to connect to ${at}${lastError === undefined ? '' : `; last error: ${lastError}`}`;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.byBind.values(), ...(this.shared === undefined ? [] : [this.shared])];
    this.byBind.clear();
    await Promise.all(all.map((l) => l.close()));
  }

  private open(host: string, port: number, ipv6Only: boolean): BgpListener {
    return new BgpListener(host, port, {
      peers: this.peers,
      log: this.log,
      ipv6Only,
      onReject: (reason) => this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1),
    });
  }
}
