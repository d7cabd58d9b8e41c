import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Writable } from 'node:stream';
import type { KubeClients, LeaseRecord } from '../kube/index.ts';
import { LeaderElector } from './leader.ts';

/** The refusal a real kube-apiserver v1.32 sent for a Lease with a 3-digit MicroTime (leases.json). */
const microTimeRefusal = 'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-12-06T00:18:51.880Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".880Z" as ".000000"';

/** What the client library throws for a non-2xx answer: the status in `code`, the Status as text in `body`. */
function apiException(code: number, reason: string, message: string): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }) });
}

function leaseStore(write: (lease: LeaseRecord) => LeaseRecord | Error): { clients: KubeClients; current: () => LeaseRecord | undefined } {
  let current: LeaseRecord | undefined;
  let rv = 0;
  const clients = {
    readLease: () => Promise.resolve(current),
    writeLease: (_ns: string, _name: string, lease: LeaseRecord) => {
      const out = write(lease);
      if (out instanceof Error) return Promise.reject(out);
      current = { ...out, resourceVersion: String(++rv) };
      return Promise.resolve(current);
    },
  } as unknown as KubeClients;
  return { clients, current: () => current };
}

function capture(): { log: pino.Logger; lines: () => { level: number; msg: string; status?: number }[] } {
  const chunks: string[] = [];
  const stream = new Writable({ write(c: Buffer, _e, done) { chunks.push(c.toString()); done(); } });
  return { log: pino({ level: 'debug' }, stream), lines: () => chunks.join('').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

async function ticks(until: () => boolean): Promise<void> {
  // Each tick is one read and one write against the in-memory store: a few event-loop turns.
  for (let i = 0; i < 200 && !until(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(until(), 'condition not reached');
}

test('lease times go out as MicroTime: exactly six fractional digits, as the API server requires', async () => {
  const written: string[] = [];
  const { clients } = leaseStore((lease) => {
    written.push(JSON.stringify(lease));
    return lease;
  });
  let leading = false;
  const elector = new LeaderElector({ clients, namespace: 'vipgate-system', name: 'l', identity: 'me', onStartedLeading: () => (leading = true), onStoppedLeading: () => undefined, now: () => Date.parse('2026-12-06T00:18:47.860Z') });
  elector.start();
  await ticks(() => leading);
  await elector.stop();
  const first = JSON.parse(written[0]!) as { acquireTime: string; renewTime: string };
  assert.equal(first.acquireTime, '2026-12-06T00:18:47.860000Z');
  assert.equal(first.renewTime, '2026-12-06T00:18:47.860000Z');
});

test('a refused lease is logged at warn with the server\'s words, and after a lease duration with no leader the replica is not ready', async () => {
  const { clients } = leaseStore(() => apiException(400, 'BadRequest', microTimeRefusal));
  let now = 1_000_000;
  const { log, lines } = capture();
  const elector = new LeaderElector({ clients, namespace: 'vipgate-system', name: 'l', identity: 'me', leaseDurationMs: 15_000, retryPeriodMs: 60_000, onStartedLeading: () => undefined, onStoppedLeading: () => undefined, log, now: () => now });
  assert.equal(elector.health().ok, true, 'a fresh replica gets one lease duration to find a leader');
  elector.start();
  await ticks(() => elector.health().refusals === 1);
  const warn = lines().find((l) => l.level === 40);
  assert.ok(warn !== undefined && warn.msg.includes(microTimeRefusal), `warn line with the server's message, got ${JSON.stringify(lines())}`);
  assert.equal(warn.status, 400);
  now += 16_000;
  const h = elector.health();
  assert.equal(h.ok, false);
  assert.match(h.reason, /^no leader for 16 s \(lease duration 15 s\): the API server refused the lease \(HTTP 400 BadRequest\): Lease in version "v1" cannot be handled/);
  await elector.stop();
});

test('a standby that sees another replica renew stays ready; when the leader stops renewing it takes over', async () => {
  let now = 0;
  const other: LeaseRecord = { holderIdentity: 'other', leaseDurationSeconds: 15, leaseTransitions: 0 };
  const store = leaseStore((lease) => lease);
  // Another replica holds the lease and renews it (a new resourceVersion) until told to stop.
  let rv = 100;
  let renewing = true;
  const clients = {
    ...store.clients,
    readLease: () => Promise.resolve(store.current() ?? { ...other, resourceVersion: String(renewing ? ++rv : rv) }),
  } as KubeClients;
  const state = { leading: false };
  const elector = new LeaderElector({ clients, namespace: 'n', name: 'l', identity: 'me', leaseDurationMs: 15_000, retryPeriodMs: 1, onStartedLeading: () => (state.leading = true), onStoppedLeading: () => undefined, now: () => now });
  elector.start();
  for (let i = 0; i < 20; i++) {
    now += 5_000;
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(elector.health().ok, true, elector.health().reason);
  }
  assert.equal(state.leading, false);
  renewing = false;
  const isLeading = (): boolean => state.leading;
  for (let i = 0; i < 200 && !isLeading(); i++) {
    now += 1_000;
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal(state.leading, true, 'took the lease once it expired');
  assert.equal(elector.health().reason, 'leading');
  await elector.stop();
});
