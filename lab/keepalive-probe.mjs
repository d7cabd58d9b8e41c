#!/usr/bin/env node
// Long-lived HTTP connections for path-change measurements: CONNECTIONS keep-alive connections,
// each sending a request every INTERVAL_MS on its one socket, until SIGTERM (or MAX_MS). Prints
// "ready <ports>" (the local ports, JSON) once every connection has had an answer, and on exit one
// JSON line {"summary": [...]}: per connection its answers, its failures (time, message) and
// every local port it used — one port means the connection lived throughout. Plain Node.
//   node keepalive-probe.mjs URL CONNECTIONS INTERVAL_MS MAX_MS
import { Agent, get } from 'node:http';

const [url, countText, intervalText, maxText] = process.argv.slice(2);
const count = Math.max(1, Math.min(Number(countText), 64));
const interval = Math.max(5, Number(intervalText));
const deadline = Date.now() + Math.min(Number(maxText), 600_000);
if (url === undefined || !Number.isFinite(deadline)) {
  process.stderr.write('usage: keepalive-probe.mjs URL CONNECTIONS INTERVAL_MS MAX_MS\n');
  process.exit(2);
}
let stopping = false;

function connection() {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const state = { ok: 0, failed: [], ports: [] };
  const once = () =>
    new Promise((resolve) => {
      const t = Date.now();
      const req = get(url, { agent, timeout: 2000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) state.ok++;
          else state.failed.push({ t, error: `status ${res.statusCode}` });
          resolve();
        });
      });
      req.on('socket', (s) => {
        const note = () => {
          if (!state.ports.includes(s.localPort)) state.ports.push(s.localPort);
        };
        if (s.localPort !== undefined) note();
        else s.once('connect', note);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        state.failed.push({ t, error: e.message });
        resolve();
      });
    });
  const running = (async () => {
    while (!stopping && Date.now() < deadline) {
      await once();
      await new Promise((r) => setTimeout(r, interval));
    }
    agent.destroy();
  })();
  return { state, running };
}

const connections = Array.from({ length: count }, connection);
const ready = setInterval(() => {
  if (connections.every((c) => c.state.ok > 0)) {
    clearInterval(ready);
    process.stdout.write(`ready ${JSON.stringify(connections.map((c) => c.state.ports[0]))}\n`);
  }
}, 20);
const finish = async () => {
  stopping = true;
  clearInterval(ready);
  await Promise.all(connections.map((c) => c.running));
  process.stdout.write(`${JSON.stringify({ summary: connections.map((c) => c.state) })}\n`);
  process.exit(0);
};
process.once('SIGTERM', finish);
process.once('SIGINT', finish);
setTimeout(finish, Math.max(0, deadline - Date.now()));
