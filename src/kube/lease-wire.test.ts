import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { V1MicroTime } from '@kubernetes/client-node';
import { createKubeClients } from './clients.ts';

// The body the client library really sends for a Lease, captured off the wire: a real
// kube-apiserver v1.32 refuses a renewTime without exactly six fractional digits (leases.json,
// "create-3-fractional-digits") and accepts "2026-12-06T00:18:47.860000Z" ("create-6-fractional-digits").
test('writeLease puts acquireTime and renewTime on the wire with six fractional digits', async () => {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      bodies.push(text);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', ...JSON.parse(text) as object }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfigText = JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  });
  try {
    const at = new V1MicroTime(Date.parse('2026-12-06T00:18:47.860Z'));
    const written = await createKubeClients({ kubeconfigText }).writeLease('vipgate-system', 'vipgate-controller', { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: at, renewTime: at, leaseTransitions: 0 });
    const spec = (JSON.parse(bodies[0]!) as { spec: Record<string, unknown> }).spec;
    assert.equal(spec['acquireTime'], '2026-12-06T00:18:47.860000Z');
    assert.equal(spec['renewTime'], '2026-12-06T00:18:47.860000Z');
    assert.equal(written.renewTime?.toISOString(), '2026-12-06T00:18:47.860000Z', 'read back as MicroTime too');
  } finally {
    server.close();
  }
});
