// Start-up at scale from the standalone config file (issue 10 item 5), through the real CLI and
// agent (bin/vipgate) with a real BIRD 2 as the router:
//  1. check-config of a 10,000-service file: `bin/vipgate check-config` wall time, and in this
//     process parseConfig vs a plain `yaml` parse of the same text, interleaved rounds, medians
//     and the paired ratio. Target: check-config ≤ 0.5 s.
//  2. agent start → all 10,000 /32s in the router's kernel table (`ip route … proto bird`).
//     Target ≤ 2 s.
//  3. hot reload: the file saved with one service removed (then put back) → its route gone from
//     (back in) the router's kernel (`ip monitor route`). Target ≤ 200 ms.
// Run: npx tsx bench/startup.bench.ts [--quick] [--bin OTHER/bin/vipgate] [--cpu-prof DIR]
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { routerBirdConfig, startBird } from '../lab/bird.ts';
import { Lab } from '../lab/lab.ts';
import { runCommand } from '../lab/run.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import type { Topology } from '../lab/topology.ts';
import { parseConfig } from '../src/config/index.ts';
import { commandLine, formatTable, machine, verdict, writeResult } from './lib/report.ts';
import { monitorLines, sleep, until } from './lib/wait.ts';
import { median, pairedRatio, summarize } from './lib/stats.ts';
import { startupConfig, startupVip, type StartupConfigOptions } from './lib/startup-config.ts';

const quick = process.argv.includes('--quick');
// `--bin PATH`: another checkout's bin/vipgate (the figures before a change, same bench).
const binAt = process.argv.indexOf('--bin');
const BIN = binAt >= 0 ? (process.argv[binAt + 1] ?? VIPGATE_BIN) : VIPGATE_BIN;
// `--cpu-prof DIR`: the agent writes a V8 CPU profile there when it exits (node --cpu-prof).
const profAt = process.argv.indexOf('--cpu-prof');
// NODE_OPTIONS refuses --cpu-prof: the bundle runs under node directly (bin/vipgate's flag too).
const AGENT = profAt >= 0 ? `node --max-semi-space-size=4 --cpu-prof --cpu-prof-dir='${process.argv[profAt + 1] ?? '/tmp'}' '${join(dirname(VIPGATE_BIN), '..', 'dist', 'vipgate.mjs')}'` : `'${BIN}'`;
const SERVICES = 10_000;
const PARSE_ROUNDS = quick ? 2 : 5;
const START_ROUNDS = quick ? 1 : 3;
const RELOAD_TRIALS = quick ? 3 : 10;
const TARGET = { checkConfigMs: 500, startMs: 2000, reloadMs: 200 } as const;
const run = promisify(execFile);


const ROUTER = '10.181.1.1';
const LB = '10.181.1.16';
const topology: Topology = {
  hosts: [{ name: 'router', forwarding: true }, { name: 'lb1' }],
  segments: [{ name: 'dc', members: [{ host: 'router', addresses: [`${ROUTER}/24`] }, { host: 'lb1', addresses: [`${LB}/24`] }] }],
};
const configOptions: StartupConfigOptions = { count: SERVICES, nodeName: 'lb1', routerId: LB, localAsn: 65002, peer: { address: ROUTER, asn: 65001 } };

// ── 1. check-config ───────────────────────────────────────────────────────────────────────

interface ParseRounds {
  readonly checkConfigMs: number[];
  readonly parseConfigMs: number[];
  readonly yamlParseMs: number[];
}

async function checkConfig(path: string): Promise<ParseRounds> {
  const text = readFileSync(path, 'utf8');
  const rounds: ParseRounds = { checkConfigMs: [], parseConfigMs: [], yamlParseMs: [] };
  for (let round = 0; round < PARSE_ROUNDS; round++) {
    const order = round % 2 === 0 ? (['ours', 'yaml'] as const) : (['yaml', 'ours'] as const);
    for (const who of order) {
      const t0 = performance.now();
      if (who === 'yaml') parse(text);
      else parseConfig(text, path, { hostname: 'lb1' });
      (who === 'yaml' ? rounds.yamlParseMs : rounds.parseConfigMs).push(performance.now() - t0);
    }
    const t0 = performance.now();
    const { stdout } = await run(BIN, ['check-config', path]);
    rounds.checkConfigMs.push(performance.now() - t0);
    if (!stdout.includes(`${SERVICES} services`)) throw new Error(`check-config said: ${stdout}`);
    console.log(`round ${round + 1}/${PARSE_ROUNDS}: check-config ${rounds.checkConfigMs.at(-1)!.toFixed(0)} ms; in process parseConfig ${rounds.parseConfigMs.at(-1)!.toFixed(0)} ms, yaml.parse ${rounds.yamlParseMs.at(-1)!.toFixed(0)} ms`);
  }
  return rounds;
}

// ── 2 and 3. the agent against BIRD ───────────────────────────────────────────────────────


interface AgentRounds {
  readonly startMs: number[];
  /** Agent start → the router's first route from it: the first UPDATE's arrival, near enough. */
  readonly firstRouteMs: number[];
  readonly removeMs: number[];
  readonly addMs: number[];
}

async function throughAgent(dir: string, configPath: string): Promise<AgentRounds> {
  const lab = await Lab.up(topology);
  const removeHandlers = lab.removeOnSignals();
  const kernelCount = async (): Promise<number> => {
    const r = await runCommand(['ip', '-n', lab.ns('router'), '-4', 'route', 'show', 'proto', 'bird'], { timeoutMs: 10_000 });
    return r.stdout.split('\n').filter((l) => /^\d/.test(l)).length;
  };
  const rounds: AgentRounds = { startMs: [], firstRouteMs: [], removeMs: [], addMs: [] };
  const writeConfig = async (text: string): Promise<void> => {
    await writeFile(`${configPath}.new`, text);
    await rename(`${configPath}.new`, configPath);
  };
  try {
    await startBird(lab, 'router', routerBirdConfig({ routerId: ROUTER, localAsn: 65001, holdTimeSeconds: 9, neighbors: [{ name: 'lb1v4', address: LB, asn: 65002 }] }), dir, 'router');
    const monitor = monitorLines(await lab.spawn('router', ['ip', '-4', 'monitor', 'route']));
    for (let round = 0; round < START_ROUNDS; round++) {
      await writeConfig(startupConfig(configOptions));
      const log = join(dir, `agent-${round}.log`);
      const t0 = performance.now();
      const agent = await lab.spawn('lb1', ['sh', '-c', `exec ${AGENT} agent --config '${configPath}' --state-file '${dir}/state.json' >'${log}' 2>&1`]);
      try {
        const first = await monitor.wait(/proto bird/, t0, 60_000);
        await until(`${SERVICES} routes in the router kernel`, async () => ((await kernelCount()) >= SERVICES ? true : undefined), 120_000, 20);
        rounds.startMs.push(performance.now() - t0);
        rounds.firstRouteMs.push(first - t0);
        console.log(`start ${round + 1}/${START_ROUNDS}: first route after ${(first - t0).toFixed(0)} ms, all ${SERVICES} after ${rounds.startMs.at(-1)!.toFixed(0)} ms`);
        if (round === START_ROUNDS - 1) await hotReloads(writeConfig, monitor, rounds);
      } finally {
        agent.child.kill('SIGTERM');
        await Promise.race([new Promise((r) => agent.child.once('exit', r)), sleep(20_000)]);
      }
      printPasses(log);
      await until('the router kernel emptied', async () => ((await kernelCount()) === 0 ? true : undefined), 60_000, 50);
    }
  } finally {
    removeHandlers();
    await lab.down();
  }
  return rounds;
}

/** The agent's own account of its passes: where the time went (phases per pass). */
function printPasses(logPath: string): void {
  let startedAt: number | undefined;
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { time: number; msg: string; ms?: number; phases?: unknown };
    startedAt ??= entry.time;
    if (/settings changed|dataplane updated|established|Established/.test(entry.msg)) {
      console.log(`  agent +${entry.time - startedAt} ms: ${entry.msg}${entry.ms === undefined ? '' : ` (${entry.ms} ms, ${JSON.stringify(entry.phases)})`}`);
    }
  }
}

/** One service out of the file, then back in: its route leaves and comes back. */
async function hotReloads(writeConfig: (text: string) => Promise<void>, monitor: ReturnType<typeof monitorLines>, rounds: AgentRounds): Promise<void> {
  for (let trial = 0; trial < RELOAD_TRIALS; trial++) {
    const index = 1000 + trial * 777;
    const vip = startupVip(index).replaceAll('.', '\\.');
    // Texts made before the clock starts: only the save, the agent and the router are timed.
    const without = startupConfig({ ...configOptions, without: new Set([index]) });
    const full = startupConfig(configOptions);
    const t0 = performance.now();
    await writeConfig(without);
    rounds.removeMs.push((await monitor.wait(new RegExp(`^Deleted ${vip} `), t0, 30_000)) - t0);
    const t1 = performance.now();
    await writeConfig(full);
    rounds.addMs.push((await monitor.wait(new RegExp(`^${vip} .*proto bird`), t1, 30_000)) - t1);
    console.log(`reload ${trial + 1}/${RELOAD_TRIALS}: service out → route gone ${rounds.removeMs.at(-1)!.toFixed(0)} ms; back in → route back ${rounds.addMs.at(-1)!.toFixed(0)} ms`);
  }
}

async function main(): Promise<void> {
  const started = machine();
  const dir = (await runCommand(['mktemp', '-d', '/tmp/vipgate-startup-XXXX'])).stdout.trim();
  try {
    const configPath = join(dir, 'lb1.yaml');
    await writeFile(configPath, startupConfig(configOptions));
    const parsed = await checkConfig(configPath);
    const agent = await throughAgent(dir, configPath);
    const check = median(parsed.checkConfigMs);
    const ratio = pairedRatio(parsed.parseConfigMs, parsed.yamlParseMs);
    const start = median(agent.startMs);
    const reload = median([...agent.removeMs, ...agent.addMs]);
    const reloadMax = Math.max(...agent.removeMs, ...agent.addMs);
    const rows = [
      [`check-config, ${SERVICES} services (wall, whole CLI)`, `${check.toFixed(0)} ms`, `≤ ${TARGET.checkConfigMs} ms`, verdict(check, TARGET.checkConfigMs, 'lower')],
      ['  in process: parseConfig', `${median(parsed.parseConfigMs).toFixed(0)} ms`, '', ''],
      ['  in process: plain yaml.parse of the same file', `${median(parsed.yamlParseMs).toFixed(0)} ms`, '', ''],
      ['  ratio parseConfig / yaml.parse (paired)', ratio.toFixed(2), '', ''],
      [`agent start → first route in the router`, `${median(agent.firstRouteMs).toFixed(0)} ms`, '', ''],
      [`agent start → all ${SERVICES} in the router kernel`, `${start.toFixed(0)} ms`, `≤ ${TARGET.startMs} ms`, verdict(start, TARGET.startMs, 'lower')],
      [`hot reload, one service out/in → router, median of ${agent.removeMs.length + agent.addMs.length}`, `${reload.toFixed(0)} ms (max ${reloadMax.toFixed(0)})`, `≤ ${TARGET.reloadMs} ms`, verdict(reload, TARGET.reloadMs, 'lower')],
    ];
    console.log(`\nStart-up at scale (medians; load average at start ${started.loadAverage.toFixed(2)})`);
    console.log(formatTable(['measure', 'value', 'target', ''], rows));
    const path = writeResult('startup', {
      benchmark: 'startup',
      command: commandLine(),
      machine: started,
      services: SERVICES,
      checkConfig: { wallMs: summarize(parsed.checkConfigMs), parseConfigMs: summarize(parsed.parseConfigMs), yamlParseMs: summarize(parsed.yamlParseMs), ratio, samples: parsed },
      agent: { startMs: summarize(agent.startMs), firstRouteMs: summarize(agent.firstRouteMs), removeMs: summarize(agent.removeMs), addMs: summarize(agent.addMs), samples: agent },
      targets: TARGET,
    });
    console.log(`results: ${path}`);
  } finally {
    await runCommand(['rm', '-rf', dir]);
  }
}

await main();
