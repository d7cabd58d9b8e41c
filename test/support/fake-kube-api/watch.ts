// Watch streams as the apiserver's watch cache serves them: initial ADDED events for "any
// version" (rv unset or 0) and for sendInitialEvents, replay from a resourceVersion still in the
// cache, 200 plus an ERROR 410 event for one older than the cache, BOOKMARKs when asked for
// (one before timeoutSeconds ends the stream), and label/field selectors turning changes into
// ADDED/DELETED as objects enter or leave the selection.
import type { ServerResponse } from 'node:http';
import { ApiError, statusBody } from './errors.ts';
import { matchesFields, type FieldRequirement } from './fields.ts';
import { isObject, meta, type JsonObject } from './json.ts';
import { apiVersionOf, type ResourceType } from './resource-type.ts';
import { matches, type Requirement } from './selector.ts';
import type { Store, StoredEvent } from './store.ts';

export interface WatchRequest {
  readonly r: ResourceType;
  readonly namespace: string | undefined;
  readonly labels: readonly Requirement[];
  readonly fields: readonly FieldRequirement[];
  readonly resourceVersion: string;
  readonly bookmarks: boolean;
  readonly sendInitialEvents: boolean;
  readonly timeoutSeconds: number | undefined;
}

interface Watcher {
  readonly req: WatchRequest;
  readonly res: ServerResponse;
  readonly timers: NodeJS.Timeout[];
}

function labelsOf(obj: JsonObject): Record<string, string> {
  const labels = meta(obj)['labels'];
  return isObject(labels) ? (labels as Record<string, string>) : {};
}

/** Parses a resourceVersion as the apiserver does (strconv.ParseUint): anything else is a 500. */
export function parseResourceVersion(text: string): number {
  if (!/^\d+$/.test(text)) throw new ApiError(500, '', `resourceVersion: Invalid value: ${JSON.stringify(text)}: strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

export class Watches {
  readonly #store: Store;
  readonly #watchers = new Set<Watcher>();
  readonly #corked = new Set<ServerResponse>();

  constructor(store: Store) {
    this.#store = store;
  }

  get size(): number {
    return this.#watchers.size;
  }

  /** Delivers a change to the watches of its storage. */
  deliver(r: ResourceType, e: StoredEvent): void {
    for (const w of this.#watchers) if (w.req.r.storage === r.storage) this.#deliver(w, e);
  }

  /** Starts a stream; throws ApiError for what is refused before the stream starts. */
  open(req: WatchRequest, res: ServerResponse): void {
    let backlog: StoredEvent[];
    const rv = req.resourceVersion;
    if (req.sendInitialEvents || rv === '' || rv === '0') {
      if (rv !== '' && rv !== '0') parseResourceVersion(rv);
      // "Any version" and WatchList: the current state as ADDED events, then changes.
      backlog = this.#store.items(req.r, req.namespace).map((object) => ({ rv: 0, type: 'ADDED' as const, object, previous: undefined }));
    } else {
      try {
        backlog = this.#store.since(req.r, parseResourceVersion(rv));
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== 410) throw error;
        // A real server answers 200 and puts the 410 in the stream.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: error.status })}\n`);
        return;
      }
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { req, res, timers: [] };
    this.#watchers.add(w);
    res.on('close', () => this.#forget(w));
    for (const e of backlog) this.#deliver(w, e);
    if (req.sendInitialEvents && req.bookmarks) this.#bookmark(w, { 'k8s.io/initial-events-end': 'true' });
    if (req.timeoutSeconds !== undefined) {
      const ms = req.timeoutSeconds * 1000;
      // The cacher schedules a bookmark about 2 s before the deadline.
      if (req.bookmarks && ms > 0) w.timers.push(setTimeout(() => this.#bookmark(w), Math.max(ms - 2000, ms / 2)));
      w.timers.push(setTimeout(() => this.#end(w), ms));
    }
  }

  /** Sends a BOOKMARK at the current resourceVersion to the watches that asked for them. */
  bookmark(): void {
    for (const w of this.#watchers) if (w.req.bookmarks) this.#bookmark(w);
  }

  /** Tears every stream down mid-flight, as a proxy or an apiserver restart does. */
  drop(): void {
    for (const w of [...this.#watchers]) {
      this.#forget(w);
      w.res.destroy();
    }
  }

  /** Ends every stream with an ERROR 410 event (its history is gone). */
  expire(): void {
    for (const w of [...this.#watchers]) {
      this.#line(w.res, { type: 'ERROR', object: statusBody(410, 'Expired', `too old resource version: ${this.#store.rv} (${this.#store.cacheStartRv})`) });
      this.#end(w);
    }
  }

  #forget(w: Watcher): void {
    for (const t of w.timers) clearTimeout(t);
    this.#watchers.delete(w);
  }

  #end(w: Watcher): void {
    this.#forget(w);
    w.res.end();
  }

  #bookmark(w: Watcher, annotations?: Record<string, string>): void {
    const { r } = w.req;
    this.#line(w.res, {
      type: 'BOOKMARK',
      object: {
        kind: r.kind, apiVersion: apiVersionOf(r),
        metadata: { resourceVersion: String(this.#store.rv), creationTimestamp: null, ...(annotations === undefined ? {} : { annotations }) },
      },
    });
  }

  #deliver(w: Watcher, e: StoredEvent): void {
    const { req } = w;
    if (req.namespace !== undefined && meta(e.object)['namespace'] !== req.namespace) return;
    const selected = (o: JsonObject): boolean => matches(req.labels, labelsOf(o)) && matchesFields(req.fields, o);
    const now = selected(e.object);
    const before = e.previous !== undefined && selected(e.previous);
    let type: string = e.type;
    if (e.type === 'MODIFIED' && now && !before) type = 'ADDED';
    else if (e.type === 'MODIFIED' && !now && before) type = 'DELETED';
    else if (e.type === 'DELETED' ? !before : !now) return;
    this.#line(w.res, { type, object: this.#store.wire(req.r, e.object) });
  }

  #line(res: ServerResponse, event: JsonObject): void {
    if (res.destroyed || res.writableEnded) return;
    // Events of one turn of the event loop leave in one write per watch, as a real server's
    // buffered stream does: one syscall per event cost the benchmark's server ~0.2 s in writev.
    if (!this.#corked.has(res)) {
      res.cork();
      this.#corked.add(res);
      if (this.#corked.size === 1) setImmediate(() => this.#uncorkAll());
    }
    res.write(`${JSON.stringify(event)}\n`);
  }

  #uncorkAll(): void {
    // end() and destroy() flush or discard on their own; uncork on an ended response is a no-op.
    for (const res of this.#corked) res.uncork();
    this.#corked.clear();
  }
}
