import type { KubeClients, InformedKind, InformedObject } from './clients.ts';
import { objectKey } from './objects.ts';

export type ChangeType = 'add' | 'update' | 'delete';

export interface WatchOptions<T> {
  /** Called for every change; handlers should only enqueue keys (see STYLE: level-triggered). */
  readonly onChange: (type: ChangeType, object: T) => void;
  /** A watch or list failed; it is restarted after a delay. */
  readonly onError?: (error: unknown, restartInMs: number) => void;
  readonly restartDelayMs?: number;
  readonly maxRestartDelayMs?: number;
}

/** A running informer's cache and lifecycle. */
export interface WatchedKind<T> {
  /** Resolves once the first list has filled the cache. */
  readonly synced: Promise<void>;
  list(): readonly T[];
  /** By `namespace/name` (or `name` for cluster-scoped kinds). */
  get(key: string): T | undefined;
  stop(): Promise<void>;
}

/**
 * Lists and watches one kind through the client library's informer, and restarts it after any
 * error. The library relists by itself only on 410 Gone; on anything else (a torn connection, a
 * 500, the API server restarting) it reports an error and stops for good. A restart resumes from
 * the last resourceVersion seen, so changes made meanwhile are replayed, not lost.
 */
export function watchKind<K extends InformedKind>(clients: KubeClients, kind: K, options: WatchOptions<InformedObject[K]>): WatchedKind<InformedObject[K]> {
  const informer = clients.informer(kind);
  const base = options.restartDelayMs ?? 500;
  const max = options.maxRestartDelayMs ?? 30_000;
  let stopped = false;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let errors = 0;
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));

  informer.on('add', (o) => options.onChange('add', o));
  informer.on('update', (o) => options.onChange('update', o));
  informer.on('delete', (o) => options.onChange('delete', o));
  informer.on('error', (error) => {
    errors++;
    if (stopped || restartTimer !== undefined) return;
    const delay = Math.min(base * 2 ** failures, max);
    failures++;
    options.onError?.(error, delay);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void begin();
    }, delay);
  });

  async function begin(): Promise<void> {
    if (stopped) return;
    const errorsBefore = errors;
    await informer.start();
    // start() returns after the list and the opening of the watch, or after an error.
    if (errors === errorsBefore) {
      failures = 0;
      markSynced();
    }
  }
  void begin();

  return {
    synced,
    list: () => informer.list(),
    get: (key) => {
      const slash = key.indexOf('/');
      return slash < 0 ? informer.get(key) : informer.get(key.slice(slash + 1), key.slice(0, slash));
    },
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      await informer.stop();
    },
  };
}

export { objectKey };
