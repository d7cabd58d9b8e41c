/** TCP plumbing shared by sessions: how connections are opened and closed. */
import { connect, type Socket } from 'node:net';
import type { Timers } from './runtime.ts';

export interface ConnectTarget {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  /** Aborted when the session gives up on this attempt (retry timer, stop, accepted connection). */
  readonly signal?: AbortSignal;
}

/**
 * Opens the TCP connection; replaced for TCP MD5 (the key must be set before the SYN). A Socket
 * is expected to emit 'connect'; a Promise resolves once the connection is up.
 */
export type ConnectFn = (target: ConnectTarget) => Socket | Promise<Socket>;

export const defaultConnect: ConnectFn = (t) =>
  connect({ host: t.host, port: t.port, ...(t.localAddress === undefined ? {} : { localAddress: t.localAddress }) });

/** How long a closing connection gets to flush its last NOTIFICATION before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

/**
 * Ends a connection after its queued bytes (a last NOTIFICATION) are flushed; destroys it if
 * the peer does not finish closing within the grace time. Resolves once it is closed.
 */
export function closeGracefully(socket: Socket, timers: Timers): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  if (socket.connecting) {
    // Nothing was sent yet: no NOTIFICATION to flush.
    socket.destroy();
    return Promise.resolve();
  }
  const closed = new Promise<void>((resolve) => {
    const cancel = timers.setTimer(() => {
      socket.destroy();
      resolve();
    }, CLOSE_GRACE_MS);
    socket.once('close', () => {
      cancel();
      resolve();
    });
  });
  socket.end();
  return closed;
}
