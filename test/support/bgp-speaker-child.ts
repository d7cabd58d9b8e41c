// Runs a vipgate BGP Speaker inside whatever network namespace this process was started in
// (`ip netns exec <ns> node --import tsx test/support/bgp-speaker-child.ts`), driven by JSON lines
// on stdin: {"id":1,"cmd":"start","speaker":{…},"peers":[…]} | {"cmd":"set","routes":[…]} |
// {"cmd":"setPeers","default":[…],"byPeer":{"<address>":[…]}} | {"cmd":"peers"} |
// {"cmd":"memory","gc":true} (process.memoryUsage(), after a full GC if asked) | {"cmd":"stop","message":"…"}. Each command is answered with one JSON line
// {"id":…,"ok":true,"result":…} or {"id":…,"ok":false,"error":"…"} on stdout.
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Speaker, type Advertisement, type PeerConfig, type SpeakerOptions } from '../../src/bgp/index.ts';

interface Command {
  readonly id: number;
  readonly cmd: 'start' | 'set' | 'setPeers' | 'peers' | 'memory' | 'stop';
  readonly speaker?: Omit<SpeakerOptions, 'log' | 'timers' | 'connect'>;
  readonly peers?: PeerConfig[];
  readonly routes?: Advertisement[];
  readonly default?: Advertisement[];
  readonly byPeer?: Record<string, Advertisement[]>;
  readonly message?: string;
  readonly gc?: boolean;
}

let speaker: Speaker | undefined;

const log = {
  debug: () => undefined,
  info: (fields: object, message: string) => process.stderr.write(`${JSON.stringify({ level: 'info', ...fields, message })}\n`),
  warn: (fields: object, message: string) => process.stderr.write(`${JSON.stringify({ level: 'warn', ...fields, message })}\n`),
  child: () => log,
};

async function run(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'start':
      if (c.speaker === undefined) throw new Error('start needs "speaker"');
      speaker = new Speaker({ ...c.speaker, log });
      for (const p of c.peers ?? []) speaker.addPeer(p);
      return null;
    case 'set':
      speaker?.setAdvertisements(c.routes ?? []);
      return null;
    case 'setPeers':
      speaker?.setPeerAdvertisements({ default: c.default ?? [], byPeer: new Map(Object.entries(c.byPeer ?? {})) });
      return null;
    case 'peers':
      return speaker?.peers() ?? [];
    case 'memory':
      if (c.gc === true) {
        // The child is started without --expose-gc; this turns it on for a fresh context.
        setFlagsFromString('--expose-gc');
        (runInNewContext('gc') as () => void)();
      }
      return process.memoryUsage();
    case 'stop':
      await speaker?.stop(c.message);
      setImmediate(() => process.exit(0));
      return null;
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  const c = JSON.parse(line) as Command;
  try {
    const result = await run(c);
    process.stdout.write(`${JSON.stringify({ id: c.id, ok: true, result })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ id: c.id, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) })}\n`);
  }
}
// stdin closed: the parent is gone; leave without ceremony (a crash, as far as peers can tell).
process.exit(0);
