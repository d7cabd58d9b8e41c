// The lab the traffic benchmarks share: client ─ lb1 ─ node1 + pods (lab/benchTopology), the
// minimal HTTP server in every pod, and wrk in the client. Everything lives in namespaces with
// a "vgb" prefix; down() removes them and the processes, also when a benchmark throws.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Lab, benchTopology } from '../../lab/index.ts';
import { nftablesDataplane, openNftKernel } from '../../src/dataplane/nftables/index.ts';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import type { Backend } from '../../src/model/index.ts';
import { BENCH_VIP } from './tables.ts';
import { parseWrk, wrkArgv, type WrkResult } from './wrk.ts';

const SERVER = fileURLToPath(new URL('../http-server.mjs', import.meta.url));
export const PORT = 80;

/** Table name of the hand-written reference (R1); vipgate's own is `inet vipgate`. */
const REFERENCE_TABLE = 'ip vgbench';

export type WrkMode = 'keepalive' | 'newconn';

export interface HttpLab {
  readonly lab: Lab;
  /** The pods' backends, as the model describes them. */
  readonly backends: readonly Backend[];
  /** A vipgate nftables dataplane acting in lb1 (through `ip netns exec … nft -f -`). */
  readonly dataplane: Dataplane;
  /** Runs wrk from the client against `address:80`; throws when wrk fails or reports errors. */
  wrk(address: string, mode: WrkMode, seconds: number): Promise<WrkResult>;
  /** Installs the hand-written one-rule DNAT reference (R1) in lb1. */
  installReference(): Promise<void>;
  removeReference(): Promise<void>;
  /** Empties lb1's conntrack table, so every run starts from the same state. */
  flushConntrack(): Promise<void>;
  /** One request through `address`, to check a route answers before it is measured. */
  probe(address: string): Promise<void>;
  down(): Promise<void>;
}

/** Connections wrk keeps open: enough to keep both cores busy, few enough not to thrash. */
const CONNECTIONS: Record<WrkMode, number> = { keepalive: 32, newconn: 16 };

export async function startHttpLab(options: { backends: number }): Promise<HttpLab> {
  const lab = await Lab.up(benchTopology({ backends: options.backends }), { prefix: `vgb${randomBytes(2).toString('hex')}` });
  const removeSignals = lab.removeOnSignals();
  try {
    // New-connection runs open ~50k connections to one destination in 4 s. Without reuse of
    // TIME_WAIT ports the client runs out of ephemeral ports and the next run to the same VIP
    // crawls at a few hundred conn/s (runs looked bimodal: ~12k or ~400), whatever the route.
    await lab.exec('client', ['sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000']);
    const pods = lab.topology.pods ?? [];
    await Promise.all(
      pods.map(async (pod) => {
        const proc = await lab.spawn(pod.name, [process.execPath, SERVER, '--port', String(PORT)]);
        await proc.waitForLine(/^listening /, 10_000);
      }),
    );
    const backends: Backend[] = pods.map((p) => ({ address: p.addresses[0]!, port: PORT, weight: 1, state: 'ready' }));
    const nft = (text: string): Promise<string> => lab.exec('lb1', ['nft', '-f', '-'], { input: text, timeoutMs: 60_000 });
    const dataplane = nftablesDataplane({ kernel: openNftKernel({ netns: lab.ns('lb1') }) });

    const httpLab: HttpLab = {
      lab,
      backends,
      dataplane,
      async wrk(address, mode, seconds) {
        const argv = wrkArgv({ url: `http://${address}:${PORT}/`, seconds, connections: CONNECTIONS[mode], newConnections: mode === 'newconn' });
        // wrk stops itself after `seconds`; the exec timeout is the bound if it hangs.
        const result = parseWrk(await lab.exec('client', argv, { timeoutMs: (seconds + 10) * 1000 }));
        if (result.requests === 0) throw new Error(`wrk to ${address} (${mode}) completed no request`);
        return result;
      },
      async installReference() {
        const targets = backends.map((b, i) => `${i} : ${b.address}`).join(', ');
        await nft(
          `add table ${REFERENCE_TABLE}\ndelete table ${REFERENCE_TABLE}\ntable ${REFERENCE_TABLE} {\n` +
            `\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n` +
            `\t\tip daddr ${BENCH_VIP} tcp dport ${PORT} dnat to numgen random mod ${backends.length} map { ${targets} }\n\t}\n}\n`,
        );
      },
      async removeReference() {
        await nft(`add table ${REFERENCE_TABLE}\ndelete table ${REFERENCE_TABLE}\n`);
      },
      async flushConntrack() {
        // conntrack -F exits 1 when there is no table to flush yet; that is fine.
        await lab.exec('lb1', ['sh', '-c', 'conntrack -F 2>/dev/null; true']);
      },
      async probe(address) {
        const r = await lab.curl('client', `http://${address}:${PORT}/`, { timeoutMs: 3000 });
        if (!r.ok) throw new Error(`probe of http://${address}:${PORT}/ from client failed: ${r.error ?? `HTTP ${r.status}`}`);
      },
      async down() {
        removeSignals();
        await dataplane.close();
        await lab.down();
      },
    };
    return httpLab;
  } catch (error) {
    removeSignals();
    await lab.down();
    throw error;
  }
}
