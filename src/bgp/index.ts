/** vipgate's BGP-4 speaker. A leaf library: it imports only from net/ and node builtins. */
export { Speaker, type PeerAdvertisements, type PeerConfig, type PeerStatus, type SentRoute, type SpeakerOptions } from './speaker.ts';
export type { Advertisement } from './advertisement.ts';
export { BgpError, BgpErrorCode, BgpMessageError, ErrorTreatment } from './errors.ts';
export { FsmStateName, type StopKind } from './fsm.ts';
export type { AddressFamily } from './negotiate.ts';
export { realTimers, silentLogger, type BgpLogger, type Timers } from './runtime.ts';
export { BGP_PORT, type ConnectFn, type ConnectTarget } from './session.ts';
