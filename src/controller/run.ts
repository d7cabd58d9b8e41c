import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { createKubeClients, type InformedKind, type KubeClients, type KubeService, type KubeTarget } from '../kube/index.ts';
import { informedPath, loadConfig } from '../kube/clients.ts';
import { rawHttp, type RawHttp } from '../kube/raw-http.ts';
import { RawInformer } from '../kube/raw-informer.ts';
import { rawWrites } from '../kube/raw-writes.ts';
import { Controller } from './controller.ts';
import { LeaderElector, type ElectionHealth } from './leader.ts';

export interface RunControllerOptions {
  /** A kubeconfig file; in-cluster service account when omitted. */
  readonly kubeconfig?: string;
  /** Tests: kubeconfig text, or ready clients. */
  readonly kubeconfigText?: string;
  readonly clients?: KubeClients;
  readonly log: Logger;
  /** Also take LoadBalancer Services without spec.loadBalancerClass. */
  readonly isDefaultClass?: boolean;
  readonly leaseNamespace?: string;
  readonly leaseName?: string;
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly informerRestartMs?: number;
  /** How often the admission params and pool status are checked with no change (tests shorten it). */
  readonly poolResyncMs?: number;
  /**
   * Which HTTP stack carries the hot paths: 'ours' (`raw-http.ts`) or 'library' (the client
   * library alone). Default: `VIPGATE_KUBE_HTTP`, else 'ours'. For bench/kube.bench.ts --compare-http.
   */
  readonly http?: 'ours' | 'library';
}

export interface RunningController {
  readonly identity: string;
  leading(): boolean;
  /** Whether some replica leads (readiness), and why not. */
  health(): ElectionHealth;
  /** The controller while this replica leads (and has finished its rebuild). */
  current(): Controller | undefined;
  /** Steps down (releasing the lease) and stops watching. */
  stop(): Promise<void>;
}

function target(o: RunControllerOptions): KubeTarget {
  if (o.kubeconfigText !== undefined) return { kubeconfigText: o.kubeconfigText };
  if (o.kubeconfig !== undefined) return { kubeconfig: o.kubeconfig };
  return { inCluster: true };
}

/**
 * The library's clients, with what a rebuild does 10,000 times on the lean path of `raw-http`:
 * the two writes (Service status, Events) and the Services' list and watch, which carries the
 * echo of every status write.
 */
function withRawPaths(where: KubeTarget): KubeClients {
  const clients = createKubeClients(where);
  const http = rawHttp(loadConfig(where));
  http.catch(() => undefined); // surfaces on first use
  const raw = http.then((h) => rawWrites(h));
  raw.catch(() => undefined);
  const lazy: RawHttp = {
    request: async (...args) => (await http).request(...args),
    stream: async (path) => (await http).stream(path),
  };
  return {
    ...clients,
    // Generic in the kind; only 'services' takes the other branch, so the cast is the whole proof.
    informer: ((kind: InformedKind) => (kind === 'services' ? new RawInformer<KubeService>(lazy, informedPath(kind)) : clients.informer(kind))) as unknown as KubeClients['informer'],
    patchServiceStatus: async (namespace, name, status, resourceVersion) => (await raw).patchServiceStatus(namespace, name, status, resourceVersion),
    createEvent: async (event) => (await raw).createEvent(event),
  };
}

/**
 * `vipgate controller`: campaigns for the Lease and runs a Controller while it leads. Losing
 * the lease stops the controller at once; winning it again starts a fresh one, which rebuilds
 * its view from the Services' status (the truth), not from memory that may be stale.
 */
export function runController(options: RunControllerOptions): RunningController {
  const http = options.http ?? (process.env['VIPGATE_KUBE_HTTP'] === 'library' ? 'library' : 'ours');
  const clients = options.clients ?? (http === 'library' ? createKubeClients(target(options)) : withRawPaths(target(options)));
  const identity = options.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`;
  const log = options.log.child({ identity });
  let controller: Controller | undefined;
  let ready: Controller | undefined;
  let chain: Promise<void> = Promise.resolve();
  // Start and stop run one after the other, so a quick lose-win never runs two controllers.
  const serially = (step: () => Promise<void>): void => {
    chain = chain.then(step).catch((error: unknown) => log.error({ err: error }, 'controller start/stop failed'));
  };
  const elector = new LeaderElector({
    clients,
    namespace: options.leaseNamespace ?? 'vipgate-system',
    name: options.leaseName ?? 'vipgate-controller',
    identity,
    ...(options.leaseDurationMs === undefined ? {} : { leaseDurationMs: options.leaseDurationMs }),
    ...(options.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: options.renewDeadlineMs }),
    ...(options.retryPeriodMs === undefined ? {} : { retryPeriodMs: options.retryPeriodMs }),
    log,
    onStartedLeading: () =>
      serially(async () => {
        const c = new Controller({
          clients, log, isDefaultClass: options.isDefaultClass ?? false, namespace: options.leaseNamespace ?? 'vipgate-system',
          ...(options.informerRestartMs === undefined ? {} : { informerRestartMs: options.informerRestartMs }),
          ...(options.poolResyncMs === undefined ? {} : { poolResyncMs: options.poolResyncMs }),
        });
        controller = c;
        await c.start();
        if (controller === c) ready = c;
      }),
    onStoppedLeading: () =>
      serially(async () => {
        const c = controller;
        controller = undefined;
        ready = undefined;
        await c?.stop();
      }),
  });
  elector.start();
  return {
    identity,
    leading: () => elector.leading,
    health: () => elector.health(),
    current: () => ready,
    async stop() {
      await elector.stop();
      serially(async () => {
        await controller?.stop();
        controller = undefined;
        ready = undefined;
      });
      await chain;
    },
  };
}
