#!/usr/bin/env node
// A lab backend "pod": answers HTTP with its name (body "<name>\n", header x-backend; x-client
// names the source address it saw) and echoes its name to any UDP datagram, on one port, IPv4
// and IPv6. Plain Node (no tsx) so it starts fast. Prints "listening <port>" once both sockets are bound; exits on SIGTERM/SIGINT.
//   node backend-server.mjs --name pod1a [--port 80]
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { name: { type: 'string' }, port: { type: 'string', default: '80' } } });
const name = values.name;
const port = Number(values.port);
if (!name || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: backend-server.mjs --name NAME [--port 1-65535]\n');
  process.exit(2);
}

const http = createServer((req, res) => {
  req.resume();
  // x-client: the source the pod sees. Behind an LB with SNAT it is that LB node's address,
  // which is how the BGP tests tell which LB node carried a request.
  const client = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name, 'x-client': client });
  res.end(`${name}\n`);
});
const udp = createSocket({ type: 'udp6', ipv6Only: false });
udp.on('message', (_msg, rinfo) => udp.send(`${name}\n`, rinfo.port, rinfo.address));

await Promise.all([
  new Promise((resolve, reject) => {
    http.once('error', reject);
    // '::' without ipv6Only takes IPv4 too (as ::ffff:a.b.c.d).
    http.listen({ host: '::', port, ipv6Only: false }, resolve);
  }),
  new Promise((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ address: '::', port }, resolve);
  }),
]);
process.stdout.write(`listening ${port}\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    udp.close();
    http.close();
    http.closeAllConnections();
    process.exit(0);
  });
}
