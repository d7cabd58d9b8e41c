#!/usr/bin/env node
// A timed request stream for failover measurements: `concurrency` workers send HTTP requests,
// each on a new connection (so ECMP hashes every one afresh), until `durationMs` has passed.
// Prints one JSON line per request: start time (ms since the epoch, comparable with the caller's
// clock), duration, outcome, the pod that answered and the source the pod saw (x-client).
// Plain Node so it starts fast.
//   node flow-probe.mjs URL DURATION_MS CONCURRENCY TIMEOUT_MS
import { request } from 'node:http';

const [url, durationText, concurrencyText, timeoutText] = process.argv.slice(2);
const durationMs = Math.min(Number(durationText), 120_000);
const concurrency = Math.max(1, Math.min(Number(concurrencyText), 32));
const timeoutMs = Math.max(50, Math.min(Number(timeoutText), 10_000));
if (url === undefined || !Number.isFinite(durationMs)) {
  process.stderr.write('usage: flow-probe.mjs URL DURATION_MS CONCURRENCY TIMEOUT_MS\n');
  process.exit(2);
}
const deadline = Date.now() + durationMs;

function once() {
  return new Promise((resolve) => {
    const t = Date.now();
    let finished = false;
    const done = (fields) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ t, ms: Date.now() - t, ...fields });
    };
    // A hard limit from the start: the request's own timeout only runs once the socket is
    // connected, and a SYN into a dead path would otherwise wait for its retransmits.
    const timer = setTimeout(() => {
      done({ ok: false, error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => done({ ok: res.statusCode === 200, backend: res.headers['x-backend'] ?? null, via: res.headers['x-client'] ?? null }));
      res.on('error', (e) => done({ ok: false, error: e.message }));
    });
    req.on('error', (e) => done({ ok: false, error: e.message }));
    req.end();
  });
}

async function worker() {
  while (Date.now() < deadline) {
    const sample = await once();
    process.stdout.write(`${JSON.stringify(sample)}\n`);
    // A refused connection returns at once; don't spin on it.
    if (!sample.ok && sample.ms < 10) await new Promise((r) => setTimeout(r, 10));
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
