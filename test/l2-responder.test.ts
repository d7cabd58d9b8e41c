// The L2 responder against the kernel: clients on a bridge resolve an owned VIP to the LB node's
// MAC through it (ARP and NDP), an unowned VIP or another interface gets no answer, a takeover
// moves a client's existing neighbour entry, and two nodes claiming one VIP see each other.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { Lab } from '../lab/index.ts';
import { eventually } from './support/eventually.ts';

interface State {
  owned: { interface: string; mac: string; vips: string[]; probing: string[] }[];
  counters: { answers: { arp: number; ndp: number }; announcements: number; conflicts: number; ignored: Record<string, number> };
  conflicts: { interface: string; vip: string; mac: string; while: string }[];
}

/** A responder in a lab namespace, driven over JSON lines (test/support/l2-responder-child.ts). */
class ResponderChild {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (line: { ok: boolean; result?: unknown; error?: string }) => void>();
  readonly stderr: string[] = [];
  #next = 1;

  constructor(lab: Lab, host: string, probeMs?: number) {
    const script = join(import.meta.dirname, 'support', 'l2-responder-child.ts');
    const argv = [process.execPath, '--import', 'tsx', script, ...(probeMs === undefined ? [] : [String(probeMs)])];
    this.#child = spawn('ip', ['netns', 'exec', lab.ns(host), ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const reply = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string };
      this.#waiting.get(reply.id)?.(reply);
    });
    createInterface({ input: this.#child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  async call<T>(cmd: string, fields: object = {}): Promise<T> {
    const id = this.#next++;
    const reply = await new Promise<{ ok: boolean; result?: unknown; error?: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`responder did not answer "${cmd}"; stderr:\n${this.stderr.join('\n')}`)), 20_000);
      this.#waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.#child.stdin!.write(`${JSON.stringify({ id, cmd, ...fields })}\n`);
    });
    if (!reply.ok) throw new Error(reply.error);
    return reply.result as T;
  }

  apply(interfaces: { name: string; vips: string[] }[]): Promise<{ failed: { interface: string; message: string }[] }> {
    return this.call('apply', { interfaces });
  }

  state(): Promise<State> {
    return this.call('state');
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    await this.call('stop').catch(() => this.#child.kill('SIGKILL'));
    await exited;
  }
}

let lab: Lab;
let lb: ResponderChild;
let lbMac: string;

/** The client's neighbour entry for `address` on `dev`: its MAC and state, or undefined. */
async function neighbour(host: string, address: string, dev: string): Promise<{ lladdr?: string; state: string[] } | undefined> {
  const text = await lab.exec(host, ['ip', '-j', 'neigh', 'show', address, 'dev', dev]);
  const entries = JSON.parse(text || '[]') as { lladdr?: string; state: string[] }[];
  return entries[0];
}

/** Makes `host` resolve `address` (a UDP datagram to a closed port: the kernel must first ask who has it). */
async function resolve(host: string, address: string): Promise<void> {
  await lab.udp(host, address, 9, { timeoutMs: 100 });
}

before(async () => {
  lab = await Lab.up({
    hosts: [{ name: 'switch' }, { name: 'client' }, { name: 'lb', forwarding: true }, { name: 'rival' }, { name: 'other' }],
    segments: [
      {
        name: 'flat',
        bridgeIn: 'switch',
        members: [
          { host: 'switch' },
          { host: 'client', addresses: ['10.77.0.1/24', 'fd77::1/64'] },
          { host: 'lb', addresses: ['10.77.0.2/24', 'fd77::2/64'] },
          { host: 'rival', addresses: ['10.77.0.3/24', 'fd77::3/64'] },
        ],
      },
      // A second interface of the LB node, on which it owns nothing.
      { name: 'side', members: [{ host: 'lb', addresses: ['10.78.0.2/24'] }, { host: 'other', addresses: ['10.77.0.9/24'] }] },
    ],
  });
  lbMac = await macOf('lb');
  lb = new ResponderChild(lab, 'lb');
  const applied = await lb.apply([{ name: 'flat', vips: ['10.77.0.5', 'fd77::5'] }]);
  assert.deepEqual(applied.failed, []);
});

after(async () => {
  await lb.stop();
  await lab.down();
});

test('a client resolves an owned IPv4 VIP to the LB node MAC', async () => {
  const entry = await eventually('client to learn 10.77.0.5', async () => {
    await resolve('client', '10.77.0.5');
    const e = await neighbour('client', '10.77.0.5', 'flat');
    return e?.lladdr === undefined ? undefined : e;
  });
  assert.equal(entry.lladdr, lbMac);
  assert.ok((await lb.state()).counters.answers.arp >= 1);
});

test('a client resolves an owned IPv6 VIP to the LB node MAC (NDP)', async () => {
  const entry = await eventually('client to learn fd77::5', async () => {
    await resolve('client', 'fd77::5');
    const e = await neighbour('client', 'fd77::5', 'flat');
    return e?.lladdr === undefined ? undefined : e;
  });
  assert.equal(entry.lladdr, lbMac);
  assert.ok((await lb.state()).counters.answers.ndp >= 1);
});

test('a VIP the node does not own gets no answer, though the request reached it', async () => {
  const before = (await lb.state()).counters.ignored['not-owned'] ?? 0;
  await eventually('the request for 10.77.0.6 to reach the responder', async () => {
    await resolve('client', '10.77.0.6');
    return ((await lb.state()).counters.ignored['not-owned'] ?? 0) > before;
  });
  assert.equal((await neighbour('client', '10.77.0.6', 'flat'))?.lladdr, undefined);
});

test('an owned VIP is not answered on another interface of the node', async () => {
  // One datagram: the kernel asks (3 broadcasts a second apart, by default) and then gives up.
  // Asking again before it gives up would start it over.
  await resolve('other', '10.77.0.5');
  await eventually('the kernel of "other" to give up on 10.77.0.5', async () => {
    const e = await neighbour('other', '10.77.0.5', 'side');
    return e?.state.includes('FAILED') === true ? e : undefined;
  }, 30_000, 200);
  assert.equal((await neighbour('other', '10.77.0.5', 'side'))?.lladdr, undefined);
});

test('taking a VIP over moves the entry a client already had (gratuitous ARP, unsolicited NA)', async () => {
  await lab.exec('client', ['ip', 'neigh', 'replace', '10.77.0.7', 'lladdr', '02:00:00:00:00:99', 'dev', 'flat', 'nud', 'stale']);
  await lab.exec('client', ['ip', 'neigh', 'replace', 'fd77::7', 'lladdr', '02:00:00:00:00:99', 'dev', 'flat', 'nud', 'stale']);
  await lb.apply([{ name: 'flat', vips: ['10.77.0.5', 'fd77::5', '10.77.0.7', 'fd77::7'] }]);
  for (const vip of ['10.77.0.7', 'fd77::7']) {
    await eventually(`client's entry for ${vip} to move to ${lbMac}`, async () => (await neighbour('client', vip, 'flat'))?.lladdr === lbMac);
  }
});

test('a VIP given up is no longer answered', async () => {
  await lb.apply([{ name: 'flat', vips: ['10.77.0.5', 'fd77::5'] }]);
  await lab.exec('client', ['ip', 'neigh', 'del', '10.77.0.7', 'dev', 'flat']);
  const before = (await lb.state()).counters.ignored['not-owned'] ?? 0;
  await eventually('the request for 10.77.0.7 to reach the responder', async () => {
    await resolve('client', '10.77.0.7');
    return ((await lb.state()).counters.ignored['not-owned'] ?? 0) > before;
  });
  assert.equal((await neighbour('client', '10.77.0.7', 'flat'))?.lladdr, undefined);
});

const macOf = async (host: string): Promise<string> => (JSON.parse(await lab.exec(host, ['ip', '-j', 'link', 'show', 'flat'])) as { address: string }[])[0]!.address;

test('a node about to take a VIP probes first and does not take it while the owner answers', async () => {
  const rival = new ResponderChild(lab, 'rival');
  try {
    await rival.apply([{ name: 'flat', vips: ['10.77.0.5', 'fd77::5'] }]);
    const seen = await eventually('rival to hear lb answer its probes for both VIPs', async () => {
      const c = (await rival.state()).conflicts.filter((x) => x.mac === lbMac && x.while === 'probing');
      return new Set(c.map((x) => x.vip)).size === 2 ? c : undefined;
    });
    assert.deepEqual(new Set(seen.map((x) => x.vip)), new Set(['10.77.0.5', 'fd77::5']));
    const owned = (await rival.state()).owned[0]!;
    assert.deepEqual(owned.vips, [], 'the rival answers for neither');
    assert.deepEqual(new Set(owned.probing), new Set(['10.77.0.5', 'fd77::5']));
    assert.equal((await lb.state()).conflicts.length, 0, 'a probe is not a claim');
  } finally {
    await rival.stop();
  }
});

test('an owner sees another node announce its VIP (both believed the other dead)', async () => {
  const rival = new ResponderChild(lab, 'rival', 0);
  try {
    const rivalMac = await macOf('rival');
    await rival.apply([{ name: 'flat', vips: ['10.77.0.5', 'fd77::5'] }]);
    const seen = await eventually('lb to see rival claim both VIPs', async () => {
      const c = (await lb.state()).conflicts.filter((x) => x.mac === rivalMac);
      return new Set(c.map((x) => x.vip)).size === 2 ? c : undefined;
    });
    assert.ok(seen.every((x) => x.while === 'owning' && x.interface === 'flat'));
  } finally {
    await rival.stop();
  }
});
