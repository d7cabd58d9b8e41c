/**
 * One BFD session: carries out the state machine's actions (packets, timers) over a transport.
 * Time and randomness (jitter, discriminator) are injected.
 */
import { realTimers, silentLogger, type BgpLogger, type CancelTimer, type Timers } from '../runtime.ts';
import { BFD_STATE_NAMES, BfdState, type BfdDiagnostic } from './constants.ts';
import { BfdError, BfdErrorCode, BfdPacketError } from './errors.ts';
import { controlPacketOf, initialBfdState, transition, transmitIntervalMs, type BfdAction, type BfdEvent, type BfdSessionState } from './fsm.ts';
import { decodeControlPacket, encodeControlPacket } from './packet.ts';
import type { BfdLink, BfdTransport } from './socket.ts';

/** Per-peer BFD settings, milliseconds as operators write them. */
export interface BfdConfig {
  /** Desired Min TX Interval once Up. */
  readonly minTxMs: number;
  /** Required Min RX Interval: how often we are willing to receive. */
  readonly minRxMs: number;
  /** Detect Mult: the peer declares us down after this many intervals without a packet. */
  readonly multiplier: number;
}

export interface BfdSessionOptions {
  readonly localAddress: string;
  readonly peerAddress: string;
  readonly config: BfdConfig;
  readonly transport: BfdTransport;
  readonly timers?: Timers;
  /** In [0, 1): jitter and the local discriminator. */
  readonly random?: () => number;
  readonly log?: BgpLogger;
  /** Every state change; `from` Up to Down is the one BGP acts on (RFC 5882 §4.3). */
  readonly onStateChange?: (change: { from: BfdState; to: BfdState; diagnostic: BfdDiagnostic; reason: string }) => void;
}

/** Throws BfdError if the settings cannot be put on the wire. */
export function checkBfdConfig(c: BfdConfig): void {
  // The wire carries microseconds in 32 bits: 1 ms .. 4294967 ms; 10 ms is a sane floor for a
  // userspace implementation on a shared CPU.
  for (const [name, v] of [['minTxMs', c.minTxMs], ['minRxMs', c.minRxMs]] as const) {
    if (!Number.isInteger(v) || v < 10 || v > 60_000) throw new BfdError(BfdErrorCode.badTimers, `BFD ${name} ${v} must be an integer 10..60000 (milliseconds)`);
  }
  if (!Number.isInteger(c.multiplier) || c.multiplier < 1 || c.multiplier > 255) throw new BfdError(BfdErrorCode.badTimers, `BFD multiplier ${c.multiplier} must be 1..255`);
}

export class BfdSession {
  private fsm: BfdSessionState;
  private link: BfdLink | undefined;
  private detection: CancelTimer | undefined;
  private transmit: CancelTimer | undefined;
  private stopped = false;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly log: BgpLogger;
  /** Packets dropped by the §6.8.6 rules, for operators. */
  discarded = 0;

  constructor(private readonly options: BfdSessionOptions) {
    checkBfdConfig(options.config);
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? silentLogger;
    const discriminator = 1 + Math.floor(this.random() * 0xfffffffe);
    this.fsm = initialBfdState(discriminator, {
      desiredMinTxUs: options.config.minTxMs * 1000,
      requiredMinRxUs: options.config.minRxMs * 1000,
      detectMult: options.config.multiplier,
    });
  }

  get state(): BfdState {
    return this.fsm.sessionState;
  }

  get stateName(): string {
    return BFD_STATE_NAMES[this.fsm.sessionState];
  }

  /** Opens the link and starts sending (Down, slow rate) until the peer answers. */
  async start(): Promise<void> {
    const link = await this.options.transport.open(this.options.localAddress, this.options.peerAddress, (bytes) => this.receive(bytes));
    if (this.stopped) {
      await link.close();
      return;
    }
    this.link = link;
    this.send(false);
    this.armTransmit(transmitIntervalMs(this.fsm));
  }

  /** Stops sending: AdminDown is announced once (so the peer does not see a failure), then the link closes. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.dispatch({ type: 'AdminDown' });
    this.stopped = true;
    this.transmit?.();
    this.detection?.();
    const link = this.link;
    this.link = undefined;
    await link?.close();
  }

  /** One UDP payload from the peer. */
  receive(bytes: Uint8Array): void {
    if (this.stopped) return;
    try {
      this.dispatch({ type: 'PacketReceived', packet: decodeControlPacket(bytes) });
    } catch (error) {
      if (!(error instanceof BfdPacketError)) throw error;
      this.discarded++;
      this.log.debug({ code: error.code }, error.message);
    }
  }

  private dispatch(event: BfdEvent): void {
    const t = transition(this.fsm, event);
    this.fsm = t.state;
    for (const action of t.actions) this.run(action, t.reason ?? event.type);
  }

  private run(action: BfdAction, reason: string): void {
    switch (action.type) {
      case 'sendControl':
        this.send(action.final);
        return;
      case 'startDetectionTimer':
        this.detection?.();
        this.detection = this.timers.setTimer(() => {
          this.detection = undefined;
          this.dispatch({ type: 'DetectionTimerExpired' });
        }, action.ms);
        return;
      case 'stopDetectionTimer':
        this.detection?.();
        this.detection = undefined;
        return;
      case 'setTransmitInterval':
        if (!this.stopped && this.link !== undefined) this.armTransmit(action.ms);
        return;
      case 'stateChanged': {
        const change = { from: action.from, to: action.to, diagnostic: action.diagnostic, reason };
        this.log.info({ from: BFD_STATE_NAMES[action.from], to: BFD_STATE_NAMES[action.to], diagnostic: action.diagnostic, reason }, 'BFD session state changed');
        this.options.onStateChange?.(change);
        return;
      }
    }
  }

  private send(final: boolean): void {
    this.link?.send(encodeControlPacket(controlPacketOf(this.fsm, final)));
  }

  /**
   * RFC 5880 §6.8.7: "the interval MUST be reduced by a random value of 0 to 25% ... If
   * bfd.DetectMult is equal to 1, the interval ... MUST be no more than 90% of the negotiated
   * transmission interval, and MUST be no less than 75%."
   */
  private armTransmit(baseMs: number): void {
    this.transmit?.();
    const jitter = this.fsm.detectMult === 1 ? 0.1 + 0.15 * this.random() : 0.25 * this.random();
    this.transmit = this.timers.setTimer(() => {
      // §6.8.7: "If bfd.RemoteMinRxInterval is zero, the system MUST NOT periodically transmit
      // BFD Control packets." (Answers to a Poll and state changes still go out.)
      if (this.fsm.remoteMinRxUs !== 0) this.send(false);
      this.armTransmit(transmitIntervalMs(this.fsm));
    }, baseMs * (1 - jitter));
  }
}
