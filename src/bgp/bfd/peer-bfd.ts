/**
 * BFD for one BGP peer, tied to its session (RFC 5882): the BFD session starts when the BGP
 * session first knows its local address and lives until the peer is removed, so it is already
 * Up when BGP comes back after a reset; a BFD session that was Up going Down drops the BGP
 * connection. The speaker only calls `sessionUp`, reads `stateName` and `stop`s it.
 */
import { formatIp } from '../../net/index.ts';
import type { BgpLogger, Timers } from '../runtime.ts';
import { socketAddress } from '../transport.ts';
import { BFD_STATE_NAMES, BfdState } from './constants.ts';
import { BfdSession, type BfdConfig } from './session.ts';
import { UdpBfdTransport, type BfdTransport } from './socket.ts';

/** What BFD needs of the BGP session it watches. */
export interface WatchedSession {
  /** Our address on the connection; undefined until connected. */
  readonly localAddress: string | undefined;
  /** Drops the TCP connection; the FSM retries as usual. */
  dropConnection(reason: string): void;
}

/** The UDP transport every peer's BFD shares, opened when the first session starts. */
export class SharedBfdTransport {
  private transport: BfdTransport | undefined;

  /** `given` replaces the UDP sockets (tests). */
  constructor(private readonly given?: BfdTransport) {}

  get(): BfdTransport {
    return (this.transport ??= this.given ?? new UdpBfdTransport());
  }
}

export interface PeerBfdOptions {
  /** undefined: the peer has no BFD, and this does nothing. */
  readonly config: BfdConfig | undefined;
  readonly peerAddress: string;
  /** The configured local address; else the session's once connected. */
  readonly localAddress: string | undefined;
  readonly session: WatchedSession;
  readonly transport: SharedBfdTransport;
  readonly timers: Timers;
  readonly log: BgpLogger;
}

export class PeerBfd {
  private bfd: BfdSession | undefined;
  private stopped = false;

  constructor(private readonly options: PeerBfdOptions) {}

  /** For peers(): undefined without BFD; "Down" until the BFD session runs. */
  get stateName(): string | undefined {
    return this.options.config === undefined ? undefined : (this.bfd?.stateName ?? 'Down');
  }

  /** The BGP session is Established: starts BFD if it is configured and not running yet. */
  sessionUp(): void {
    const { config, session } = this.options;
    if (config === undefined || this.bfd !== undefined || this.stopped) return;
    const localIp = socketAddress(this.options.localAddress ?? session.localAddress);
    if (localIp === undefined) return;
    const bfd = new BfdSession({
      localAddress: formatIp(localIp),
      peerAddress: this.options.peerAddress,
      config,
      transport: this.options.transport.get(),
      timers: this.options.timers,
      log: this.options.log.child({ bfd: true }),
      onStateChange: ({ from, to, reason }) => {
        // RFC 5882 §4.3: a BFD session that was Up going Down means the path is gone; only a
        // session that came Up counts (a router without BFD leaves ours Down for ever).
        if (from === BfdState.up && to !== BfdState.up && to !== BfdState.adminDown) {
          session.dropConnection(`bfd: session ${BFD_STATE_NAMES[to]} (${reason})`);
        }
      },
    });
    this.bfd = bfd;
    bfd.start().catch((error: unknown) => {
      this.options.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'BFD could not start; the BGP session runs without it');
      if (this.bfd === bfd) this.bfd = undefined;
    });
  }

  /** The peer is removed or the speaker stops: AdminDown, then the link closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.bfd?.stop();
  }
}
