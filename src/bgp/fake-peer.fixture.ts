/** A scripted BGP peer on loopback for unit tests: records what it receives, sends what it is told. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { MessageFramer } from './wire/header.ts';
import { decodeMessage, type BgpMessage } from './wire/message.ts';
import { encodeKeepalive, encodeOpen, type OpenMessage } from './wire/index.ts';

export interface PeerConnection {
  readonly socket: Socket;
  readonly received: BgpMessage[];
  closed: boolean;
}

/** Waits (by turns of the event loop, not by clock, so mock timers do not stall it) until `check` holds. */
export async function until(check: () => boolean, what: string, turns = 200_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function watch(socket: Socket, fourOctetAs = true): PeerConnection {
  const c: PeerConnection = { socket, received: [], closed: false };
  const framer = new MessageFramer();
  socket.on('data', (chunk: Buffer) => {
    for (const m of framer.push(chunk)) c.received.push(decodeMessage(m, { fourOctetAs }));
  });
  socket.on('close', () => (c.closed = true));
  socket.on('error', () => undefined);
  return c;
}

export function peerOpen(over: Partial<Omit<OpenMessage, 'type' | 'version'>> = {}): Uint8Array {
  return encodeOpen({
    myAutonomousSystem: 65001,
    holdTimeSeconds: 9,
    bgpIdentifier: '10.10.12.1',
    capabilities: [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'multiprotocol', afi: 2, safi: 1 },
      { kind: 'four-octet-as', asn: 65001 },
      { kind: 'route-refresh' },
    ],
    ...over,
  });
}

export class FakePeer {
  readonly connections: PeerConnection[] = [];
  private constructor(
    private readonly server: Server,
    readonly host: string,
  ) {}

  /** Listens on an ephemeral port of `host` (any 127.0.0.0/8 address works on Linux loopback). */
  static async listen(host = '127.0.0.1'): Promise<FakePeer> {
    const server = createServer();
    const peer = new FakePeer(server, host);
    server.on('connection', (socket) => peer.connections.push(watch(socket)));
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return peer;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    return address.port;
  }

  get last(): PeerConnection {
    const c = this.connections.at(-1);
    if (c === undefined) throw new Error('no connection yet');
    return c;
  }

  /** Answers the session's OPEN on the latest connection: our OPEN, then KEEPALIVE. */
  async handshake(open = peerOpen()): Promise<PeerConnection> {
    await until(() => this.connections.length > 0 && this.last.received.some((m) => m.type === 'open'), 'the OPEN');
    const c = this.last;
    c.socket.write(open);
    c.socket.write(encodeKeepalive());
    return c;
  }

  /** Opens a connection to someone (to test passive accept and collisions). */
  static dial(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
