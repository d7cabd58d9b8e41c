// The controller's small HTTP/1.1 client (src/kube/http1.ts) against node:http and against a
// raw TCP server that frames answers each way a server may: Content-Length, chunked with
// trailers, until close, after a 100 Continue; broken ones fail the request, never hang it.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { Http1Client } from '../src/kube/http1.ts';

const servers: (HttpServer | NetServer)[] = [];
after(async () => {
  for (const s of servers) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(server: HttpServer | NetServer): Promise<URL> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** A TCP server that answers every request (read up to its blank line) with `answer`'s bytes. */
async function rawServer(answer: (socket: Socket) => void): Promise<URL> {
  return listen(createNetServer((socket) => {
    let seen = '';
    socket.on('data', (c: Buffer) => {
      seen += c.toString('latin1');
      if (seen.includes('\r\n\r\n')) {
        seen = '';
        answer(socket);
      }
    });
    socket.on('error', () => undefined);
  }));
}

const MAX_SOCKETS: number = 4;
const client = (server: URL, maxSockets = MAX_SOCKETS, timeoutMs = 2000): Http1Client => new Http1Client({ server, maxSockets, timeoutMs });

test('a JSON body goes out with its length; answers come back on kept-alive connections', async () => {
  let connections = 0;
  const bodies: string[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(`${req.method} ${req.url} ${req.headers['content-type']} ${req.headers['authorization']} ${body}`);
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: body, ü: 'ß' }));
    });
  });
  server.on('connection', () => connections++);
  const c = client(await listen(server));
  const a = await c.request('PATCH', '/x/status', { Authorization: 'Bearer t', 'Content-Type': 'application/merge-patch+json' }, '{"é":1}');
  assert.deepEqual(a, { status: 200, text: JSON.stringify({ echo: '{"é":1}', ü: 'ß' }) });
  const b = await c.request('GET', '/missing', {});
  assert.equal(b.status, 404);
  assert.deepEqual(bodies, ['PATCH /x/status application/merge-patch+json Bearer t {"é":1}', 'GET /missing undefined undefined ']);
  assert.equal(connections, 1, 'one connection, kept alive');
  connections = 0;

  // More at once than connections allowed: every one answered, over at most 4 connections.
  const many = await Promise.all(Array.from({ length: 30 }, (_, i) => c.request('POST', `/n/${i}`, {}, String(i))));
  assert.deepEqual(many.map((r) => (JSON.parse(r.text) as { echo: string }).echo), Array.from({ length: 30 }, (_, i) => String(i)));
  assert.ok(connections >= 2 && connections <= MAX_SOCKETS, `${connections} connections`);
  c.close();
});

test('chunked (with extensions and trailers), until-close and after 100 Continue', async () => {
  const chunked = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n'));
  const c1 = client(chunked);
  assert.deepEqual(await c1.request('GET', '/', {}), { status: 200, text: 'hello world' });
  assert.deepEqual(await c1.request('GET', '/', {}), { status: 200, text: 'hello world' }, 'the connection is reused after a chunked answer');
  c1.close();

  // Chunks of megabytes, arriving in many TCP reads (a list of 10,000 Services is one).
  const big = 'x'.repeat(3 * 1024 * 1024);
  const bigServer = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(big);
    res.end('"end"');
  });
  const c4 = client(await listen(bigServer));
  const answer = await c4.request('GET', '/list', {});
  assert.equal(answer.text.length, big.length + 5);
  assert.ok(answer.text.endsWith('x"end"'));
  c4.close();

  const untilClose = await rawServer((s) => s.end('HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\n\r\nall of it'));
  const c2 = client(untilClose);
  assert.deepEqual(await c2.request('GET', '/', {}), { status: 500, text: 'all of it' });
  assert.deepEqual(await c2.request('GET', '/', {}), { status: 500, text: 'all of it' }, 'a new connection after one the server closed');
  c2.close();

  const interim = await rawServer((s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\n');
    // The head split across writes, as TCP may deliver it.
    s.write('HTTP/1.1 201 Created\r\nContent-');
    setTimeout(() => s.write('Length: 2\r\n\r\nok'), 20);
  });
  const c3 = client(interim);
  assert.deepEqual(await c3.request('POST', '/', {}, '{}'), { status: 201, text: 'ok' });
  c3.close();
});

test('a torn answer, a garbled one, a silent server and a bad header fail the request', async () => {
  const torn = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort'));
  const c1 = client(torn);
  await assert.rejects(c1.request('GET', '/torn', {}), /GET \/torn: the connection closed before the whole answer/);
  c1.close();

  const garbled = await rawServer((s) => s.write('SMTP ready\r\n\r\n'));
  const c2 = client(garbled);
  await assert.rejects(c2.request('GET', '/', {}), /not an HTTP\/1 answer/);
  c2.close();

  const silent = await rawServer(() => undefined);
  const c3 = client(silent, 1, 200);
  const started = Date.now();
  await assert.rejects(c3.request('GET', '/slow', {}), /GET \/slow: no answer in 0.2 s/);
  assert.ok(Date.now() - started < 2000);
  c3.close();

  await assert.rejects(client(silent).request('GET', '/', { Authorization: 'Bearer a\r\nX-Evil: 1' }), /line break/);

  const refused = new URL('http://127.0.0.1:1');
  await assert.rejects(client(refused).request('GET', '/', {}), /GET \/: connect ECONNREFUSED/);
});

test('an idle connection the server closed is not reused', async () => {
  let connections = 0;
  const server = await rawServer((s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    setTimeout(() => s.end(), 20); // the server's idle timeout
  });
  servers.at(-1)!.on('connection', () => connections++);
  const c = client(server);
  assert.equal((await c.request('GET', '/', {})).text, 'x');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await c.request('GET', '/', {})).text, 'x');
  assert.equal(connections, 2);
  c.close();
});
