// Runs inside the capture namespace: accepts BIRD's connection, answers with an OPEN (4-octet
// AS, IPv4 + IPv6 multiprotocol) and KEEPALIVEs, and prints every message BIRD sent as hex.
import { createServer } from 'node:net';
import { encodeKeepalive, encodeOpen, MessageFramer, Afi, Safi } from '../../src/bgp/wire/index.ts';

const framer = new MessageFramer();
const seen: string[] = [];
const server = createServer((socket) => {
  socket.write(
    encodeOpen({
      myAutonomousSystem: 65002,
      holdTimeSeconds: 9,
      bgpIdentifier: '10.10.12.2',
      capabilities: [
        { kind: 'multiprotocol', afi: Afi.ipv4, safi: Safi.unicast },
        { kind: 'multiprotocol', afi: Afi.ipv6, safi: Safi.unicast },
        { kind: 'route-refresh' },
        { kind: 'four-octet-as', asn: 65002 },
      ],
    }),
  );
  socket.write(encodeKeepalive());
  socket.on('data', (chunk: Buffer) => {
    for (const m of framer.push(chunk)) seen.push(Buffer.from(m).toString('hex'));
  });
  socket.on('error', () => undefined);
  setTimeout(() => {
    socket.destroy();
    server.close();
    console.log(JSON.stringify(seen, null, 1));
  }, 4000);
});
server.listen(179, '10.10.12.2');
setTimeout(() => process.exit(2), 15000).unref();
