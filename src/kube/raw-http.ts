import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeError, KubeErrorCode } from './errors.ts';
import { Http1Client } from './http1.ts';

/**
 * Plain JSON over keep-alive HTTP to the API server, with the credentials the client library
 * would send (client certificates and CA into the TLS options, tokens into the headers). Used
 * where the library's path costs too much at 10,000 objects (bench/HISTORY.md §7): the
 * controller's status writes and Events, and its Service list/watch (`raw-informer.ts`).
 */
export interface RawHttp {
  /** One request with a JSON body (or none); resolves with the answer whatever its status. */
  request(method: string, path: string, body?: object, contentType?: string): Promise<{ readonly status: number; readonly text: string }>;
  /** A GET whose body is read as it comes (a watch); resolves once the headers are in. `abort()` ends it. */
  stream(path: string): Promise<{ readonly response: IncomingMessage; readonly abort: () => void }>;
}

/**
 * An API refusal in the shape of the client library's ApiException, so that `refusalOf` reads
 * both alike: the HTTP status (in `statusCode`, as `code` is our stable error code) and the
 * answer's body verbatim (the server's Status object, with its message and reason).
 */
export class ApiStatusError extends KubeError {
  readonly statusCode: number;
  readonly body: string;
  constructor(status: number, message: string, body: string) {
    super(KubeErrorCode.api, message, { status });
    this.statusCode = status;
    this.body = body;
  }
}

/** The refusal for an answer that is not 2xx, with the API's own message when it sent one. */
export function refusal(method: string, path: string, status: number, text: string): ApiStatusError {
  let message: unknown;
  try {
    message = (JSON.parse(text) as { message?: unknown } | null)?.message;
  } catch {
    message = undefined;
  }
  return new ApiStatusError(status, `${method} ${path}: HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`, text);
}

const MAX_SOCKETS = 32;
const TIMEOUT_MS = 30_000;

export async function rawHttp(kc: KubeConfig): Promise<RawHttp> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new KubeError(KubeErrorCode.config, 'the kubeconfig has no current cluster; set current-context');
  const server = new URL(cluster.server);
  const prefix = server.pathname.replace(/\/$/, '');
  const tls = server.protocol === 'https:';
  const base: RequestOptions & { ca?: unknown; cert?: unknown; key?: unknown } = {};
  await kc.applyToHTTPSOptions(base as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
  const tlsOptions = {
    rejectUnauthorized: !cluster.skipTLSVerify,
    ...(base.ca === undefined ? {} : { ca: base.ca as string }), ...(base.cert === undefined ? {} : { cert: base.cert as string }),
    ...(base.key === undefined ? {} : { key: base.key as string }),
  };
  // Short requests on our HTTP/1.1 client (http1.ts); watches, which hold their connection for
  // minutes, on node:http with an agent of their own.
  const client = new Http1Client({ server, maxSockets: MAX_SOCKETS, timeoutMs: TIMEOUT_MS, ...(tls ? { tls: tlsOptions } : {}) });
  const streamAgent = tls ? new HttpsAgent({ keepAlive: true, ...tlsOptions }) : new HttpAgent({ keepAlive: true });
  const send = tls ? httpsRequest : httpRequest;
  let headers = { ...(base.headers as Record<string, string> | undefined) };
  let headersAt = Date.now();

  async function fresh(): Promise<Record<string, string>> {
    // Exec and auth-provider tokens expire: refresh the headers now and then, as the library does per request.
    if (Date.now() - headersAt > 60_000) {
      const options: RequestOptions = {};
      await kc.applyToHTTPSOptions(options as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
      headers = { ...(options.headers as Record<string, string> | undefined) };
      headersAt = Date.now();
    }
    return headers;
  }

  // Requests asked for in one turn of the event loop are sent together, at its end: after a
  // rebuild the controller's writes then leave in bursts instead of one by one as each answer
  // comes back. Each lone write may find the API server idle and have to wake it; on the 2-core
  // VM of bench/HISTORY.md §7 a wake-up cost the writing process ~0.1 ms in the write syscall, for
  // 10,000 writes more than 0.8 s. The delay this adds is less than one turn of the loop.
  let batch: (() => void)[] = [];
  const flush = (): void => {
    const starts = batch;
    batch = [];
    for (const start of starts) start();
  };

  return {
    async request(method, path, body, contentType = 'application/json') {
      const h = await fresh();
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = { ...h, Accept: 'application/json', ...(payload === undefined ? {} : { 'Content-Type': contentType }) };
      return new Promise((resolve, reject) => {
        if (batch.length === 0) setImmediate(flush);
        batch.push(() => {
          client.request(method, `${prefix}${path}`, headers, payload).then(resolve, reject);
        });
      });
    },

    async stream(path) {
      const h = await fresh();
      return new Promise((resolve, reject) => {
        const req = send({
          protocol: server.protocol, hostname: server.hostname, port: server.port, method: 'GET', path: `${prefix}${path}`, agent: streamAgent,
          headers: { ...h, accept: 'application/json' },
        });
        // No answer at all is an error; a quiet watch is not (the timer ends with the headers).
        const timer = setTimeout(() => req.destroy(new Error(`GET ${path}: no answer in ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
        // As the library does for its watches: a dead peer is noticed even when nothing changes.
        req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
        req.on('response', (response) => {
          clearTimeout(timer);
          resolve({ response, abort: () => req.destroy() });
        });
        req.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        req.end();
      });
    },
  };
}
