import type { IncomingMessage } from 'node:http';
import type { KubeInformer } from './clients.ts';
import { refusal, type RawHttp } from './raw-http.ts';

interface Listed<T> {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly items?: readonly T[];
}

interface WatchEvent<T> {
  readonly type?: string;
  readonly object?: T & { readonly code?: number; readonly metadata?: { readonly resourceVersion?: string } };
}

interface Named {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
}

type Verb = 'add' | 'update' | 'delete';

const keyOf = (o: Named): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * List and watch of one kind as plain JSON (`raw-http.ts`): the client library's informer with
 * its rules, without its costs. The controller's own 10,000 status writes come back to it as
 * watch events; through the library each went through node-fetch and readline, and the first
 * list through the model deserializer (~0.1 s and as much again in garbage at 10,000).
 *
 * The rules are the library's (`ListWatch`), which `watchKind` relies on: `start()` lists when
 * it has no resourceVersion (410 Gone clears it, in the stream or as the watch's answer), then
 * watches from it and resolves once the watch is open; a watch the server ends is opened again
 * from the last resourceVersion; any other failure (an error answer, a torn connection) is
 * reported once through `error` and the informer stops until `start()` is called again. An
 * event for an object at the resourceVersion already cached calls nothing.
 */
export class RawInformer<T extends Named> implements KubeInformer<T> {
  readonly #http: RawHttp;
  readonly #path: string;
  readonly #objects = new Map<string, T>();
  readonly #handlers: Record<Verb, ((o: T) => void)[]> = { add: [], update: [], delete: [] };
  readonly #errorHandlers: ((error: unknown) => void)[] = [];
  #resourceVersion = '';
  #stopped = false;
  #abort: (() => void) | undefined;

  constructor(http: RawHttp, path: string) {
    this.#http = http;
    this.#path = path;
  }

  on(verb: Verb, handler: (o: T) => void): void;
  on(verb: 'error', handler: (error: unknown) => void): void;
  on(verb: Verb | 'error', handler: ((o: T) => void) | ((error: unknown) => void)): void {
    if (verb === 'error') this.#errorHandlers.push(handler as (error: unknown) => void);
    else this.#handlers[verb].push(handler);
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#run();
  }

  stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.();
    this.#abort = undefined;
    return Promise.resolve();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#objects.get(`${namespace ?? ''}/${name}`);
  }

  list(): readonly T[] {
    return [...this.#objects.values()];
  }

  /** `stop()` may have been called while we awaited (a plain read would be narrowed away). */
  #halted(): boolean {
    return this.#stopped;
  }

  #fail(error: unknown): void {
    for (const h of this.#errorHandlers) h(error);
  }

  /** List if needed, then open the watch; resolves when it is open or has failed. */
  async #run(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      try {
        if (this.#resourceVersion === '') await this.#list();
        if (this.#halted()) return;
        const { response, abort } = await this.#http.stream(`${this.#path}?watch=true&resourceVersion=${encodeURIComponent(this.#resourceVersion)}`);
        if (response.statusCode === 410) {
          response.resume();
          this.#resourceVersion = ''; // as the library: relist, no error
          continue;
        }
        if (response.statusCode !== 200) {
          const text = await bodyOf(response);
          throw refusal('GET', `${this.#path}?watch=true`, response.statusCode ?? 0, text);
        }
        if (this.#halted()) {
          abort();
          return;
        }
        this.#abort = abort;
        this.#consume(response);
        return;
      } catch (error) {
        this.#fail(error);
        return;
      }
    }
  }

  async #list(): Promise<void> {
    const { status, text } = await this.#http.request('GET', this.#path);
    if (status !== 200) throw refusal('GET', this.#path, status, text);
    const listed = JSON.parse(text) as Listed<T>;
    const items = listed.items ?? [];
    const fresh = new Set(items.map(keyOf));
    for (const [key, old] of this.#objects) {
      if (fresh.has(key)) continue;
      this.#objects.delete(key);
      for (const h of this.#handlers.delete) h(old);
    }
    for (const item of items) this.#put(item);
    this.#resourceVersion = listed.metadata?.resourceVersion ?? '';
  }

  #put(o: T): void {
    const key = keyOf(o);
    const found = this.#objects.get(key);
    if (found === undefined) {
      this.#objects.set(key, o);
      for (const h of this.#handlers.add) h(o);
    } else if (found.metadata?.resourceVersion === undefined || found.metadata.resourceVersion !== o.metadata?.resourceVersion) {
      this.#objects.set(key, o);
      for (const h of this.#handlers.update) h(o);
    }
  }

  /** Reads the watch stream line by line until it ends (watch again) or breaks (error). */
  #consume(response: IncomingMessage): void {
    let rest = '';
    let over = false;
    const done = (error: unknown): void => {
      if (over) return;
      over = true;
      this.#abort = undefined;
      if (this.#stopped) return;
      if (error === undefined) void this.#run();
      else this.#fail(error);
    };
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (over) return;
      const text = rest + chunk;
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
        const line = text.slice(from, nl);
        from = nl + 1;
        if (line.trim() !== '') this.#event(line);
      }
      rest = text.slice(from);
    });
    response.on('end', () => done(undefined));
    response.on('error', (error) => done(error));
    // A connection torn mid-stream may end in 'close' alone.
    response.on('close', () => done(response.complete ? undefined : new Error(`watch of ${this.#path}: connection closed mid-stream`)));
  }

  #event(line: string): void {
    let event: WatchEvent<T>;
    try {
      event = JSON.parse(line) as WatchEvent<T>;
    } catch {
      return; // as the library: a line that is not JSON is skipped
    }
    const o = event.object;
    if (o === undefined) return;
    switch (event.type) {
      case 'ERROR':
        if (o.code === 410) this.#resourceVersion = '';
        return; // the server ends the stream next; then we list again
      case 'ADDED':
      case 'MODIFIED':
        this.#put(o);
        break;
      case 'DELETED': {
        const key = keyOf(o);
        if (this.#objects.delete(key)) for (const h of this.#handlers.delete) h(o);
        break;
      }
      default:
        break; // BOOKMARK: only its resourceVersion
    }
    this.#resourceVersion = o.metadata?.resourceVersion ?? '';
  }
}

function bodyOf(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    response.on('data', (c: Buffer) => chunks.push(c));
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
