import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * A small HTTP/1.1 client for many short JSON requests on keep-alive connections: one request
 * at a time per connection (no pipelining), the request written in one piece, the answer framed
 * by Content-Length, chunked encoding or the end of the connection (RFC 9112 §6.3).
 *
 * Why not node:http: at 10,000 status writes its per-request machinery (ClientRequest, agent
 * bookkeeping, IncomingMessage streams and their events) was about a third of the controller's
 * CPU after a rebuild, more than the JSON and the syscalls (bench/HISTORY.md §7). Long-lived
 * streams (watches) stay on node:http.
 */
export interface Http1Options {
  /** `http:` or `https:`, host and port (its path is not used: callers give whole paths). */
  readonly server: URL;
  readonly tls?: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer; readonly rejectUnauthorized: boolean };
  readonly maxSockets: number;
  /** For the whole answer of one request. */
  readonly timeoutMs: number;
}

export interface Http1Answer {
  readonly status: number;
  readonly text: string;
}

interface Pending {
  readonly request: string;
  readonly what: string;
  readonly resolve: (answer: Http1Answer) => void;
  readonly reject: (error: Error) => void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
const MAX_HEAD = 64 * 1024;

/** An answer being read: the head first, then the body by its framing. */
class Reader {
  #buffer: Buffer = Buffer.alloc(0);
  #status = 0;
  /** Body bytes still expected (length framing), or the phase. */
  #mode: 'head' | 'length' | 'chunked' | 'close' = 'head';
  #left = 0;
  #trailers = false;
  #crlf = false;
  readonly #body: Buffer[] = [];
  keepAlive = true;

  /** Feeds bytes; returns the answer when it is complete. Throws on a malformed answer. */
  feed(chunk: Buffer): Http1Answer | undefined {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#mode === 'head') {
        const end = this.#buffer.indexOf(HEAD_END);
        if (end < 0) {
          if (this.#buffer.length > MAX_HEAD) throw new Error(`answer head longer than ${MAX_HEAD} bytes`);
          return undefined;
        }
        const head = this.#buffer.toString('latin1', 0, end);
        this.#buffer = this.#buffer.subarray(end + 4);
        this.#head(head); // a 1xx answer leaves the mode at 'head': the real answer follows
        continue;
      }
      if (this.#mode === 'length') {
        const take = Math.min(this.#left, this.#buffer.length);
        if (take > 0) this.#body.push(this.#buffer.subarray(0, take));
        this.#buffer = this.#buffer.subarray(take);
        this.#left -= take;
        return this.#left === 0 ? this.#done() : undefined;
      }
      if (this.#mode === 'chunked') {
        if (this.#trailers) {
          // Trailer fields until an empty line; none of them matter here.
          const eol = this.#buffer.indexOf(CRLF);
          if (eol < 0) return undefined;
          this.#buffer = this.#buffer.subarray(eol + 2);
          if (eol === 0) return this.#done();
          continue;
        }
        if (this.#left > 0) {
          // Chunk data as it comes (a 4 MB list is one chunk: collecting it first was quadratic).
          const take = Math.min(this.#left, this.#buffer.length);
          if (take > 0) this.#body.push(this.#buffer.subarray(0, take));
          this.#buffer = this.#buffer.subarray(take);
          this.#left -= take;
          if (this.#left > 0) return undefined;
          this.#crlf = true;
          continue;
        }
        if (this.#crlf) {
          // The CRLF that ends a chunk's data.
          if (this.#buffer.length < 2) return undefined;
          if (this.#buffer[0] !== 0x0d || this.#buffer[1] !== 0x0a) throw new Error('malformed chunk in answer');
          this.#buffer = this.#buffer.subarray(2);
          this.#crlf = false;
          continue;
        }
        const eol = this.#buffer.indexOf(CRLF);
        if (eol < 0) return undefined;
        const size = Number.parseInt(this.#buffer.toString('latin1', 0, eol).split(';')[0]!.trim(), 16);
        if (!Number.isInteger(size) || size < 0) throw new Error('malformed chunk size in answer');
        this.#buffer = this.#buffer.subarray(eol + 2);
        if (size === 0) this.#trailers = true;
        else this.#left = size;
        continue;
      }
      // 'close': everything until the connection ends.
      if (this.#buffer.length > 0) this.#body.push(this.#buffer);
      this.#buffer = Buffer.alloc(0);
      return undefined;
    }
  }

  /** The connection ended: completes an answer framed by the end of the connection. */
  end(): Http1Answer | undefined {
    return this.#mode === 'close' ? this.#done() : undefined;
  }

  /** True when nothing of an answer has been read yet. */
  get untouched(): boolean {
    return this.#mode === 'head' && this.#buffer.length === 0 && this.#status === 0;
  }

  /** Parses the head and sets how the body is framed (nothing for an interim 1xx answer). */
  #head(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (m === null) throw new Error(`not an HTTP/1 answer: ${JSON.stringify((lines[0] ?? '').slice(0, 40))}`);
    const status = Number(m[2]);
    if (status >= 100 && status < 200) return;
    this.#status = status;
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = value.toLowerCase().split(',').map((s) => s.trim()).includes('chunked');
      else if (name === 'connection') connection = value.toLowerCase();
    }
    this.keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    if (chunked) this.#mode = 'chunked';
    else if (status === 204 || status === 304) [this.#mode, this.#left] = ['length', 0];
    else if (length !== undefined) {
      if (!Number.isInteger(length) || length < 0) throw new Error('malformed Content-Length in answer');
      [this.#mode, this.#left] = ['length', length];
    } else {
      this.#mode = 'close';
      this.keepAlive = false;
    }
  }

  #done(): Http1Answer {
    if (this.#buffer.length > 0) this.keepAlive = false; // bytes nobody asked for: do not reuse
    return { status: this.#status, text: Buffer.concat(this.#body).toString('utf8') };
  }
}

export class Http1Client {
  readonly #o: Http1Options;
  readonly #host: string;
  readonly #idle: Socket[] = [];
  readonly #waiting: Pending[] = [];
  #open = 0;
  #closed = false;

  constructor(options: Http1Options) {
    this.#o = options;
    this.#host = options.server.host;
  }

  request(method: string, path: string, headers: Readonly<Record<string, string>>, body?: string): Promise<Http1Answer> {
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.#host}\r\n`;
    let unsafe = /[\s]/.test(path);
    for (const [name, value] of Object.entries(headers)) {
      // A line break in a header (a token read from a file) would split the request.
      unsafe ||= /[\r\n]/.test(value) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name);
      head += `${name}: ${value}\r\n`;
    }
    if (unsafe) return Promise.reject(new Error(`${method} ${path}: the path holds white space, or a header a line break or an invalid name`));
    if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    const request = `${head}\r\n${body ?? ''}`;
    return new Promise((resolve, reject) => {
      this.#waiting.push({ request, what: `${method} ${path}`, resolve, reject });
      this.#next();
    });
  }

  /** Closes every connection; requests still waiting fail. */
  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) s.destroy();
    for (const p of this.#waiting.splice(0)) p.reject(new Error(`${p.what}: the client was closed`));
  }

  #next(): void {
    while (this.#waiting.length > 0) {
      if (this.#closed) return;
      const socket = this.#idle.pop() ?? (this.#open < this.#o.maxSockets ? this.#connect() : undefined);
      if (socket === undefined) return;
      this.#send(socket, this.#waiting.shift()!);
    }
  }

  #connect(): Socket {
    const { server, tls } = this.#o;
    const port = Number(server.port || (server.protocol === 'https:' ? 443 : 80));
    const host = server.hostname.replace(/^\[|\]$/g, '');
    const socket = server.protocol === 'https:'
      ? tlsConnect({
        host, port, ALPNProtocols: ['http/1.1'], rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...(tls?.ca === undefined ? {} : { ca: tls.ca }), ...(tls?.cert === undefined ? {} : { cert: tls.cert }), ...(tls?.key === undefined ? {} : { key: tls.key }),
      })
      : netConnect({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    this.#open++;
    // An idle connection the server closes leaves the pool; a busy one fails its request (below).
    const gone = (): void => {
      const at = this.#idle.indexOf(socket);
      if (at >= 0) this.#idle.splice(at, 1);
    };
    socket.on('close', () => {
      gone();
      this.#open--;
      this.#next();
    });
    socket.on('error', gone);
    return socket;
  }

  #send(socket: Socket, p: Pending): void {
    const reader = new Reader();
    let over = false;
    const finish = (error: Error | undefined, answer?: Http1Answer): void => {
      if (over) return;
      over = true;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off('timeout', onTimeout);
      socket.setTimeout(0);
      if (error !== undefined) {
        socket.destroy();
        p.reject(error);
        return;
      }
      if (reader.keepAlive && !socket.destroyed && !this.#closed) this.#idle.push(socket);
      else socket.destroy();
      p.resolve(answer!);
      this.#next();
    };
    const onData = (chunk: Buffer): void => {
      let answer: Http1Answer | undefined;
      try {
        answer = reader.feed(chunk);
      } catch (error) {
        finish(new Error(`${p.what}: ${(error as Error).message}`));
        return;
      }
      if (answer !== undefined) finish(undefined, answer);
    };
    const onEnd = (): void => {
      const answer = reader.end();
      if (answer !== undefined) finish(undefined, answer);
      else finish(new Error(`${p.what}: the connection closed before the whole answer${reader.untouched ? ' (nothing received)' : ''}`));
    };
    const onError = (error: Error): void => finish(new Error(`${p.what}: ${error.message}`, { cause: error }));
    const onClose = (): void => onEnd();
    const onTimeout = (): void => finish(new Error(`${p.what}: no answer in ${this.#o.timeoutMs / 1000} s`));
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('timeout', onTimeout);
    socket.setTimeout(this.#o.timeoutMs);
    socket.write(p.request);
  }
}
