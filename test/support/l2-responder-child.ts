// Runs an L2Responder inside the network namespace this process was started in
// (`ip netns exec <ns> node --import tsx test/support/l2-responder-child.ts`), driven by JSON
// lines on stdin: {"id":1,"cmd":"apply","interfaces":[{"name":"lb0","vips":["10.77.0.5"]}]} |
// {"cmd":"state"} (owned VIPs, counters, conflicts seen) | {"cmd":"stop"}. argv[2], when given, is
// the probe time in ms (0: take VIPs at once, as a node that believes the other one dead does). Each is answered with
// {"id":…,"ok":true,"result":…} or {"id":…,"ok":false,"error":"…"} on stdout.
import { L2Responder, type Conflict } from '../../src/l2/responder.ts';
import { parseIp } from '../../src/net/index.ts';
import { serveJsonLines } from './json-lines.ts';

interface Command {
  readonly id: number;
  readonly cmd: 'apply' | 'state' | 'stop';
  readonly interfaces?: { name: string; vips: string[] }[];
}

const conflicts: Conflict[] = [];
const probeMs = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
const responder = new L2Responder({ pollMs: 5, ...(probeMs === undefined ? {} : { probeMs }), onConflict: (c) => conflicts.push(c) });

function run(c: Command): unknown {
  switch (c.cmd) {
    case 'apply':
      return responder.apply({ interfaces: (c.interfaces ?? []).map((i) => ({ name: i.name, vips: i.vips.map((v) => parseIp(v)) })) });
    case 'state':
      return { owned: responder.owned(), counters: responder.counters, conflicts };
    case 'stop':
      responder.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

await serveJsonLines(run);
responder.close();
process.exit(0);
