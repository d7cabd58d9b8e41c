/**
 * One BGP session over TCP: carries out the FSM's actions (sockets, timers, messages) and turns
 * what happens on the wire into FSM events. Active connect with connect-retry and backoff;
 * optional passive accept with RFC 4271 §6.8 collision detection.
 */
import type { Socket } from 'node:net';
import { closeGracefully, defaultConnect, type ConnectFn, type ConnectTarget } from './connection.ts';
import { describeConnectionError, endpoint, noAnswerText } from './connection-errors.ts';
import { BgpMessageError } from './errors.ts';
import { DEFAULT_TIMINGS, FsmStateName, initialFsmState, transition, type FsmAction, type FsmEvent, type FsmState, type FsmTimings, type StopKind } from './fsm.ts';
import { FsmTimers } from './fsm-timers.ts';
import { buildOpen, type Negotiated, type SessionParameters } from './negotiate.ts';
import { realTimers, silentLogger, type BgpLogger, type Timers } from './runtime.ts';
import { CeaseSubcode, ErrorCode } from './wire/constants.ts';
import { MessageFramer } from './wire/header.ts';
import { decodeMessage, type BgpMessage } from './wire/message.ts';
import { describeNotification } from './wire/notification-names.ts';
import { encodeKeepalive, encodeNotification } from './wire/notification.ts';
import { encodeOpen, type OpenMessage } from './wire/open.ts';
import type { UpdateMessage } from './wire/update.ts';
import { parseIp } from '../net/index.ts';

export const BGP_PORT = 179;
export type { ConnectFn, ConnectTarget } from './connection.ts';

export interface SessionHandlers {
  /** The session reached Established: send the whole Adj-RIB-Out. */
  onEstablished(negotiated: Negotiated): void;
  /** The session left Established: everything sent is forgotten by the peer. */
  onDown(): void;
  onUpdate(update: UpdateMessage): void;
  onRouteRefresh(): void;
}

export interface SessionOptions {
  readonly params: SessionParameters;
  readonly peerAddress: string;
  readonly port?: number;
  readonly localAddress?: string;
  /** Never connect; wait for the peer (RFC 4271 PassiveTcpEstablishment). */
  readonly passive?: boolean;
  readonly timings?: FsmTimings;
  readonly timers?: Timers;
  readonly connect?: ConnectFn;
  readonly log?: BgpLogger;
  readonly handlers: SessionHandlers;
}

interface Connection {
  readonly socket: Socket;
  readonly framer: MessageFramer;
  readonly initiatedLocally: boolean;
  /** A socket error already said why it ended (the 'close' that follows adds nothing). */
  errored: boolean;
}

function u32(address: string): bigint {
  return parseIp(address).value;
}

export class Session {
  private fsm: FsmState;
  private conn: Connection | undefined;
  /** An incoming connection that arrived while ours was in OpenSent/OpenConfirm (RFC 4271 §6.8). */
  private candidate: Connection | undefined;
  private readonly fsmTimers: FsmTimers;
  private readonly closing = new Set<Promise<void>>();
  private readonly timers: Timers;
  private readonly timings: FsmTimings;
  private readonly log: BgpLogger;
  private readonly connectFn: ConnectFn;
  private params: SessionParameters;
  private establishedSince: number | undefined;
  /** Numbers connection attempts, so that a late result of an abandoned one is ignored. */
  private attempts = 0;
  private attemptAbort: AbortController | undefined;
  /** Timers.now() when the current connect attempt started, for "no answer … in N s". */
  private attemptStartedAt = 0;
  private lastErrorText: string | undefined;

  constructor(private readonly options: SessionOptions) {
    this.params = options.params;
    this.timings = options.timings ?? DEFAULT_TIMINGS;
    this.fsm = initialFsmState(this.timings);
    this.timers = options.timers ?? realTimers;
    this.fsmTimers = new FsmTimers(this.timers, (event) => this.dispatch(event));
    this.log = options.log ?? silentLogger;
    this.connectFn = options.connect ?? defaultConnect;
  }

  get state(): FsmStateName {
    return this.fsm.name;
  }

  get negotiated(): Negotiated | undefined {
    return this.fsm.negotiated;
  }

  /** Clock time (Timers.now) when the session became Established, if it is. */
  get establishedAt(): number | undefined {
    return this.establishedSince;
  }

  /** Our address on the current connection: the default next hop for routes. */
  get localAddress(): string | undefined {
    return this.conn?.socket.localAddress;
  }

  /**
   * Why the session last went down or could not come up, in words: the NOTIFICATION sent or
   * received (code/subcode names, detail or RFC 9003 shutdown text) or the TCP failure.
   */
  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  /** Replaces the parameters used from the next OPEN on (e.g. clearing the restart bit). */
  setParameters(params: SessionParameters): void {
    this.params = params;
  }

  start(): void {
    this.dispatch({ type: 'ManualStart', passive: this.options.passive === true });
  }

  /**
   * Closes the session and stops retrying. `remove` (default): Cease/Administrative Shutdown (Hard
   * Reset with RFC 8538), so the peer withdraws our routes; `restart`: the peer keeps them as stale
   * (RFC 4724) — no NOTIFICATION, or a Cease the negotiated N bit makes graceful.
   */
  async stop(shutdownMessage?: string, kind: StopKind = 'remove'): Promise<void> {
    this.dispatch({ type: 'ManualStop', kind, ...(shutdownMessage === undefined ? {} : { shutdownMessage }) });
    if (this.candidate !== undefined) this.close(this.candidate);
    this.candidate = undefined;
    await Promise.all([...this.closing]);
  }

  /**
   * Closes the TCP connection without a NOTIFICATION, as when the path is lost: BFD saw the peer
   * go down (RFC 5882 §4.3), so nothing we send would arrive. The FSM then retries as usual.
   */
  dropConnection(reason: string): void {
    const c = this.conn;
    if (c === undefined) return;
    this.lastErrorText = reason;
    c.errored = true;
    this.log.info({ reason }, 'dropping the BGP connection');
    c.socket.destroy();
  }

  /** Writes a message on the Established session; returns false (and sends nothing) otherwise. */
  send(bytes: Uint8Array): boolean {
    if (this.fsm.name !== FsmStateName.established || this.conn === undefined) return false;
    this.conn.socket.write(bytes);
    return true;
  }

  /** Hands the session a connection the peer opened to us (from the speaker's listener). */
  accept(socket: Socket): void {
    const name = this.fsm.name;
    if (name === FsmStateName.idle) {
      // RFC 4271 §8.2.2: Idle refuses all incoming connections.
      socket.destroy();
      return;
    }
    if (name === FsmStateName.connect || name === FsmStateName.active) {
      // Our own attempt (if any) is abandoned: the peer's connection is already up.
      if (this.conn !== undefined) this.conn.socket.destroy();
      this.conn = this.attach(socket, false);
      this.dispatch({ type: 'TcpConnectionConfirmed' });
      return;
    }
    if (name === FsmStateName.established || this.candidate !== undefined) {
      // RFC 4271 §6.8: a collision with an Established session closes the new connection.
      this.reject(this.attach(socket, false));
      return;
    }
    this.candidate = this.attach(socket, false);
    this.candidate.socket.write(encodeOpen(buildOpen(this.params)));
  }

  private reject(c: Connection): void {
    c.socket.write(encodeNotification({ code: ErrorCode.cease, subcode: CeaseSubcode.connectionCollisionResolution }));
    this.close(c);
  }

  /** RFC 4271 §6.8: keep the connection opened by the speaker with the higher BGP Identifier. */
  private resolveCollision(candidate: Connection, open: OpenMessage): void {
    const main = this.conn;
    this.candidate = undefined;
    const keepRemoteInitiated = u32(this.params.routerId) < u32(open.bgpIdentifier);
    if (main === undefined || (keepRemoteInitiated && main.initiatedLocally)) {
      this.log.info({ reason: 'collision-keep-incoming' }, 'connection collision: keeping the connection the peer opened');
      if (main !== undefined) this.reject(main);
      this.fsmTimers.stopAll();
      this.conn = candidate;
      // Our OPEN already went out on the candidate: it is in OpenSent and has the peer's OPEN.
      const { negotiated: _dropped, ...rest } = this.fsm;
      this.fsm = { ...rest, name: FsmStateName.openSent };
      this.dispatch({ type: 'BGPOpen', open });
      return;
    }
    this.log.info({ reason: 'collision-keep-existing' }, 'connection collision: keeping the existing connection');
    this.reject(candidate);
  }

  private attach(socket: Socket, initiatedLocally: boolean): Connection {
    const c: Connection = { socket, framer: new MessageFramer(), initiatedLocally, errored: false };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('error', (err) => {
      if (c !== this.conn) return;
      c.errored = true;
      this.noteError(describeConnectionError(err, this.options.peerAddress, this.port));
    });
    socket.on('close', () => {
      if (c === this.candidate) this.candidate = undefined;
      if (c !== this.conn) return;
      this.conn = undefined;
      if (!c.errored && this.fsm.name !== FsmStateName.connect) this.noteError(`connection closed by the peer (${this.target()}) without a NOTIFICATION`);
      this.dispatch({ type: 'TcpConnectionFails' });
    });
    return c;
  }

  private onData(c: Connection, chunk: Uint8Array): void {
    let messages: Uint8Array[];
    try {
      messages = c.framer.push(chunk);
    } catch (e) {
      this.onBadBytes(c, e);
      return;
    }
    const ctx = {
      fourOctetAs: this.fsm.negotiated?.fourOctetAs ?? false,
      external: this.params.peerAsn !== this.params.localAsn,
    };
    for (const bytes of messages) {
      // A transition may have dropped this connection: the rest of the chunk is moot.
      if (c !== this.conn && c !== this.candidate) return;
      let message: BgpMessage;
      try {
        message = decodeMessage(bytes, ctx);
      } catch (e) {
        this.onBadBytes(c, e);
        return;
      }
      if (c === this.candidate) {
        if (message.type === 'open') this.resolveCollision(c, message);
        continue;
      }
      this.onMessage(message);
    }
  }

  private onBadBytes(c: Connection, e: unknown): void {
    if (!(e instanceof BgpMessageError)) throw e;
    if (c === this.candidate) {
      this.candidate = undefined;
      c.socket.destroy();
      return;
    }
    this.dispatch({ type: 'MessageError', error: e });
  }

  private onMessage(m: BgpMessage): void {
    switch (m.type) {
      case 'open':
        this.dispatch({ type: 'BGPOpen', open: m });
        return;
      case 'keepalive':
        this.dispatch({ type: 'KeepAliveMsg' });
        return;
      case 'notification':
        this.noteError(describeNotification('received', m.code, m.subcode, m.shutdownMessage));
        this.dispatch({ type: 'NotifMsg', notification: m });
        return;
      case 'route-refresh':
        this.dispatch({ type: 'RouteRefreshMsg', afi: m.afi, safi: m.safi });
        return;
      case 'update':
        for (const p of m.problems) this.log.warn({ code: p.code, subcode: p.subcode, treatment: p.treatment }, `malformed UPDATE: ${p.message}`);
        this.dispatch({ type: 'UpdateMsg' });
        if (this.fsm.name === FsmStateName.established) this.options.handlers.onUpdate(m);
        return;
    }
  }

  private dispatch(event: FsmEvent): void {
    const before = this.fsm.name;
    const t = transition(this.fsm, event, this.params, this.timings);
    this.fsm = t.state;
    if (t.state.name !== before) this.log.info({ from: before, to: t.state.name, reason: t.reason }, `${before} → ${t.state.name}: ${t.reason}`);
    else this.log.debug({ state: before, reason: t.reason }, t.reason);
    for (const action of t.actions) this.run(action);
  }

  private run(a: FsmAction): void {
    switch (a.type) {
      case 'connect':
        this.openConnection();
        return;
      case 'disconnect':
        this.attempts++;
        this.attemptAbort?.abort();
        this.attemptAbort = undefined;
        if (this.conn !== undefined) this.close(this.conn);
        this.conn = undefined;
        if (this.candidate !== undefined) this.close(this.candidate);
        this.candidate = undefined;
        return;
      case 'sendOpen':
        this.conn?.socket.write(encodeOpen(buildOpen(this.params)));
        return;
      case 'sendKeepalive':
        this.conn?.socket.write(encodeKeepalive());
        return;
      case 'sendNotification': {
        const { type: _type, ...n } = a;
        const { detail, ...wire } = n;
        this.conn?.socket.write(encodeNotification(wire));
        // Our own stop is no error; everything else says why we ended the session.
        const ours = a.code === ErrorCode.cease && (a.subcode === CeaseSubcode.administrativeShutdown || a.subcode === CeaseSubcode.hardReset);
        if (!ours) this.noteError(describeNotification('sent', a.code, a.subcode, detail));
        return;
      }
      case 'connectTimedOut': {
        // The retry timer ended an attempt that never got an answer (not even a refusal).
        const seconds = Math.round((this.timers.now() - this.attemptStartedAt) / 1000);
        if (this.conn?.socket.connecting !== false) this.noteError(noAnswerText(this.options.peerAddress, this.port, seconds));
        return;
      }
      case 'startTimer':
        this.fsmTimers.start(a.timer, a.seconds);
        return;
      case 'stopTimer':
        this.fsmTimers.stop(a.timer);
        return;
      case 'sessionUp':
        this.establishedSince = this.timers.now();
        this.options.handlers.onEstablished(a.negotiated);
        return;
      case 'sessionDown':
        this.establishedSince = undefined;
        this.options.handlers.onDown();
        return;
      case 'resendRoutes':
        this.options.handlers.onRouteRefresh();
        return;
    }
  }

  private get port(): number {
    return this.options.port ?? BGP_PORT;
  }

  private target(): string {
    return endpoint(this.options.peerAddress, this.port);
  }

  /** Records why the session is down and says it in the log. */
  private noteError(text: string): void {
    this.lastErrorText = text;
    this.log.warn({ lastError: text }, text);
  }

  private openConnection(): void {
    const attempt = ++this.attempts;
    this.attemptStartedAt = this.timers.now();
    this.attemptAbort?.abort();
    const abort = new AbortController();
    this.attemptAbort = abort;
    const failed = (e: unknown): void => {
      if (attempt !== this.attempts || this.fsm.name !== FsmStateName.connect) return;
      this.noteError(describeConnectionError(e, this.options.peerAddress, this.port));
      this.dispatch({ type: 'TcpConnectionFails' });
    };
    const target: ConnectTarget = {
      host: this.options.peerAddress,
      port: this.port,
      signal: abort.signal,
      ...(this.options.localAddress === undefined ? {} : { localAddress: this.options.localAddress }),
    };
    let result: Socket | Promise<Socket>;
    try {
      result = this.connectFn(target);
    } catch (e) {
      queueMicrotask(() => failed(e));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (socket) => {
          // The attempt was abandoned (retry timer, stop, accepted connection) while it ran.
          if (attempt !== this.attempts || this.fsm.name !== FsmStateName.connect || this.conn !== undefined) {
            socket.destroy();
            return;
          }
          this.conn = this.attach(socket, true);
          this.dispatch({ type: 'TcpCRAcked' });
        },
        failed,
      );
      return;
    }
    const c = this.attach(result, true);
    this.conn = c;
    result.once('connect', () => {
      if (c === this.conn) this.dispatch({ type: 'TcpCRAcked' });
    });
  }

  /** Ends a connection after its queued bytes (a last NOTIFICATION) are flushed. */
  private close(c: Connection): void {
    const closed = closeGracefully(c.socket, this.timers);
    this.closing.add(closed);
    void closed.then(() => this.closing.delete(closed));
  }
}
