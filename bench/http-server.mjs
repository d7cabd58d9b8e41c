#!/usr/bin/env node
// The benchmarks' backend: a minimal HTTP/1.1 responder on raw TCP. The lab's backend-server.mjs
// uses node:http, whose per-request cost would make the server, not the path through lb1, the
// thing measured; this one writes a fixed answer per request head and closes when the client
// asked to. The same process serves R0, R1 and R2, so its cost cancels out of the ratios.
// Prints "listening <port>" once bound; exits on SIGTERM/SIGINT.
//   node http-server.mjs [--port 80]
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '80' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: http-server.mjs [--port 1-65535]\n');
  process.exit(2);
}

const BODY = 'ok\n';
const KEEP = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`);
const CLOSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`);

const server = createServer({ noDelay: true }, (socket) => {
  let pending = '';
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    pending += chunk.toString('latin1');
    // wrk sends GETs without bodies, so a request ends at its blank line.
    let end;
    while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
      const head = pending.slice(0, end);
      pending = pending.slice(end + 4);
      if (/\r\nconnection:\s*close/i.test(head)) {
        socket.end(CLOSE);
        return;
      }
      socket.write(KEEP);
    }
  });
});
server.on('error', (error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
server.listen({ host: '::', port, ipv6Only: false, backlog: 4096 }, () => process.stdout.write(`listening ${port}\n`));

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close();
    process.exit(0);
  });
}
