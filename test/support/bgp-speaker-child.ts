// Runs a vipgate BGP Speaker inside whatever network namespace this process was started in
// (`ip netns exec <ns> node --import tsx test/support/bgp-speaker-child.ts`), driven by JSON lines
// on stdin: {"id":1,"cmd":"start","speaker":{…},"peers":[…]} | {"cmd":"set","routes":[…]} |
// {"cmd":"setPeers","default":[…],"byPeer":{"<address>":[…]}} | {"cmd":"peers"} | {"cmd":"rejected"} (reason → count) |
// {"cmd":"memory","gc":true} (process.memoryUsage(), after a full GC if asked) | {"cmd":"stop","message":"…"}. Each command is answered with one JSON line
// {"id":…,"ok":true,"result":…} or {"id":…,"ok":false,"error":"…"} on stdout.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Speaker, type Advertisement, type PeerConfig, type SpeakerOptions } from '../../src/bgp/index.ts';
import { parseCidr, type Cidr } from '../../src/net/index.ts';
import { serveJsonLines } from './json-lines.ts';

/** An advertisement as the JSON lines carry it: the prefix as text. */
type TextAdvertisement = Omit<Advertisement, 'prefix'> & { readonly prefix: string };

interface Command {
  readonly id: number;
  readonly cmd: 'start' | 'set' | 'setPeers' | 'peers' | 'rejected' | 'memory' | 'stop';
  readonly speaker?: Omit<SpeakerOptions, 'log' | 'timers' | 'connect'>;
  readonly peers?: PeerConfig[];
  readonly routes?: TextAdvertisement[];
  readonly default?: TextAdvertisement[];
  readonly byPeer?: Record<string, TextAdvertisement[]>;
  readonly message?: string;
  readonly gc?: boolean;
}

let speaker: Speaker | undefined;

// Prefix text → parsed, kept from one set to the next like the agent keeps its VIPs: the speaker
// knows a prefix object it saw before, so an unchanged prefix costs no parsing or formatting.
let parsedPrefixes = new Map<string, Cidr>();

/** Parses the prefixes of the sets of one command (one `set`/`setPeers`). */
function parser(): { parse: (list: readonly TextAdvertisement[]) => Advertisement[]; done: () => void } {
  const current = new Map<string, Cidr>();
  const parse = (list: readonly TextAdvertisement[]): Advertisement[] =>
    list.map((a) => {
      const prefix = current.get(a.prefix) ?? parsedPrefixes.get(a.prefix) ?? parseCidr(a.prefix);
      current.set(a.prefix, prefix);
      return { ...a, prefix };
    });
  return { parse, done: () => (parsedPrefixes = current) };
}

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
    case 'set': {
      const { parse, done } = parser();
      speaker?.setAdvertisements(parse(c.routes ?? []));
      done();
      return null;
    }
    case 'setPeers': {
      const { parse, done } = parser();
      const byPeer = new Map(Object.entries(c.byPeer ?? {}).map(([peer, list]) => [peer, parse(list)]));
      speaker?.setPeerAdvertisements({ default: parse(c.default ?? []), byPeer });
      done();
      return null;
    }
    case 'peers':
      return speaker?.peers() ?? [];
    case 'rejected':
      return Object.fromEntries(speaker?.connectionsRejected() ?? []);
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

await serveJsonLines(run);
// stdin closed: the parent is gone; leave without ceremony (a crash, as far as peers can tell).
process.exit(0);
