import { Agent as HttpAgent, request as httpRequest, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { EventRecord } from './clients.ts';
import { KubeError, KubeErrorCode } from './errors.ts';
import type { KubeService } from './objects.ts';

/**
 * The controller's two hot writes — a Service's status merge-patch and an Event — as plain JSON
 * over keep-alive HTTP. At 10,000 Services the client library's path (model serializer, fetch
 * shim, middleware promises) cost ~0.4 ms of CPU per request, most of the 10 s the controller
 * needed (BENCHMARKS.md §7); these requests carry the same headers, credentials and bodies.
 * Reads and everything else stay on the library.
 */
export interface RawWrites {
  patchServiceStatus(namespace: string, name: string, status: object, resourceVersion?: string): Promise<KubeService>;
  createEvent(event: EventRecord): Promise<void>;
}

/** An API refusal with its HTTP status where `statusOf` looks for it (`statusCode`). */
class ApiStatusError extends KubeError {
  readonly statusCode: number;
  constructor(status: number, message: string) {
    super(KubeErrorCode.api, message, { status });
    this.statusCode = status;
  }
}

const MAX_SOCKETS = 32;

export async function rawWrites(kc: KubeConfig): Promise<RawWrites> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new KubeError(KubeErrorCode.config, 'the kubeconfig has no current cluster; set current-context');
  const server = new URL(cluster.server);
  const tls = server.protocol === 'https:';
  const base: RequestOptions & { ca?: unknown; cert?: unknown; key?: unknown } = {};
  // Credentials as the library would send them: client certificates and CA into the TLS
  // options, tokens (and exec/auth-provider tokens) into the headers.
  await kc.applyToHTTPSOptions(base as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
  const agent = tls
    ? new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS, ...(base.ca === undefined ? {} : { ca: base.ca as string }), ...(base.cert === undefined ? {} : { cert: base.cert as string }), ...(base.key === undefined ? {} : { key: base.key as string }), rejectUnauthorized: !cluster.skipTLSVerify })
    : new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const send = tls ? httpsRequest : httpRequest;
  let headers = { ...(base.headers as Record<string, string> | undefined) };
  let headersAt = Date.now();

  // Requests asked for in one turn of the event loop are sent together, at its end: after a
  // rebuild the controller's writes then leave in bursts instead of one by one as each answer
  // comes back. Each lone write may find the API server idle and have to wake it; on the 2-core
  // VM of BENCHMARKS.md §7 a wake-up cost the writing process ~0.1 ms in the write syscall, for
  // 10,000 writes more than 0.8 s. The delay this adds is less than one turn of the loop.
  let batch: (() => void)[] = [];
  const flush = (): void => {
    const starts = batch;
    batch = [];
    for (const start of starts) start();
  };

  function call(method: string, path: string, body: object, contentType: string): Promise<{ status: number; text: string }> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      if (batch.length === 0) setImmediate(flush);
      batch.push(() => {
        const req = send(
          {
            protocol: server.protocol, hostname: server.hostname, port: server.port, method, path: `${server.pathname.replace(/\/$/, '')}${path}`, agent,
            headers: { ...headers, accept: 'application/json', 'content-type': contentType, 'content-length': Buffer.byteLength(payload) },
            timeout: 30_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
        req.on('error', reject);
        req.end(payload);
      });
    });
  }

  async function json(method: string, path: string, body: object, contentType: string): Promise<unknown> {
    // Exec and auth-provider tokens expire: refresh the headers now and then, as the library does per request.
    if (Date.now() - headersAt > 60_000) {
      const fresh: RequestOptions = {};
      await kc.applyToHTTPSOptions(fresh as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
      headers = { ...(fresh.headers as Record<string, string> | undefined) };
      headersAt = Date.now();
    }
    const { status, text } = await call(method, path, body, contentType);
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (status < 200 || status >= 300) {
      const message = (parsed as { message?: unknown } | undefined)?.message;
      throw new ApiStatusError(status, `${method} ${path}: HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`);
    }
    return parsed;
  }

  return {
    async patchServiceStatus(namespace, name, status, resourceVersion) {
      const body = { ...(resourceVersion === undefined ? {} : { metadata: { resourceVersion } }), status };
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}/status`;
      return (await json('PATCH', path, body, 'application/merge-patch+json')) as KubeService;
    },
    async createEvent(e) {
      const event = {
        apiVersion: 'v1', kind: 'Event',
        metadata: { generateName: `${e.involved.name}.`, namespace: e.namespace },
        involvedObject: { apiVersion: 'v1', ...e.involved }, type: e.type, reason: e.reason, message: e.message, count: 1,
        firstTimestamp: e.at.toISOString(), lastTimestamp: e.at.toISOString(), source: { component: e.component }, reportingComponent: e.component,
      };
      await json('POST', `/api/v1/namespaces/${encodeURIComponent(e.namespace)}/events`, event, 'application/json');
    },
  };
}
