// The controller's lean paths over TLS, as every real API server speaks it: the CA and the token
// from a kubeconfig reach our HTTP/1.1 client (writes, lists) and the watch's agent; a server
// whose certificate the CA did not sign is refused. Certificates are made here with openssl.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { Http1Client } from '../src/kube/http1.ts';
import { rawHttp } from '../src/kube/raw-http.ts';

const dir = mkdtempSync(join(tmpdir(), 'vgt-kube-tls-'));
let server: Server;
let url: URL;
let cert: string;
const seen: string[] = [];

function selfSigned(name: string): { key: string; cert: string } {
  const [key, crt] = [join(dir, `${name}.key`), join(dir, `${name}.crt`)];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(crt, 'utf8') };
}

before(async () => {
  const pair = selfSigned('server');
  cert = pair.cert;
  server = createServer({ key: pair.key, cert: pair.cert }, (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    if (req.url?.includes('watch=true') === true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"w"}}}\n');
      return; // held open, as a watch is
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"kind":"ServiceList","items":[]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfig(ca: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'tls',
    clusters: [{ name: 'tls', cluster: { server: url.href.replace(/\/$/, ''), 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'u', user: { token: 'secret-token' } }],
    contexts: [{ name: 'tls', context: { cluster: 'tls', user: 'u' } }],
  }));
  return kc;
}

test('requests and a watch over TLS carry the token and trust the kubeconfig CA', async () => {
  const http = await rawHttp(kubeconfig(cert));
  assert.deepEqual(await http.request('GET', '/api/v1/services'), { status: 200, text: '{"kind":"ServiceList","items":[]}' });
  const { response, abort } = await http.stream('/api/v1/services?watch=true&resourceVersion=1');
  const line = await new Promise<string>((resolve) => response.once('data', (c: Buffer) => resolve(c.toString())));
  abort();
  assert.match(line, /"name":"w"/);
  assert.deepEqual(seen.slice(-2), ['GET /api/v1/services Bearer secret-token', 'GET /api/v1/services?watch=true&resourceVersion=1 Bearer secret-token']);
});

test('a server certificate the CA did not sign is refused', async () => {
  const other = selfSigned('other').cert;
  const http = await rawHttp(kubeconfig(other));
  await assert.rejects(http.request('GET', '/api/v1/services'), /self[- ]signed|unable to verify|certificate/i);
  await assert.rejects(http.stream('/api/v1/services?watch=true'), /self[- ]signed|unable to verify|certificate/i);
  const client = new Http1Client({ server: url, maxSockets: 1, timeoutMs: 2000, tls: { rejectUnauthorized: true } });
  await assert.rejects(client.request('GET', '/', {}), /self[- ]signed|unable to verify|certificate/i);
  client.close();
});
