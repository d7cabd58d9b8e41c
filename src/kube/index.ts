export { createKubeClients, VIPGATE_GROUP, VIPGATE_VERSION, type EventRecord, type InformedKind, type KubeClientOptions, type KubeClients, type KubeInformer, type KubeTarget, type LeaseRecord } from './clients.ts';
export { KubeError, KubeErrorCode, statusOf } from './errors.ts';
export { watchKind, type ChangeType, type WatchedKind, type WatchOptions } from './informer.ts';
export * from './objects.ts';
export { WorkQueue, type ReconcileResult, type WorkQueueOptions } from './queue.ts';
export { poolFromResource, poolsFromResources, type PoolProblem } from './resources.ts';
export * from './service-fields.ts';
