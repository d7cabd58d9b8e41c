export { createKubeClients, VIPGATE_GROUP, VIPGATE_VERSION, type EventRecord, type InformedKind, type KubeClientOptions, type KubeClients, type KubeInformer, type KubeTarget, type LeaseRecord } from './clients.ts';
export { KubeError, KubeErrorCode, refusalOf, statusOf, type Refusal } from './errors.ts';
// Lease times are MicroTime on the wire (six fractional digits): the library's type writes them so.
export { V1MicroTime } from '@kubernetes/client-node';
export { watchKind, type ChangeType, type WatchedKind, type WatchOptions } from './informer.ts';
export * from './objects.ts';
export { WorkQueue, type ReconcileResult, type WorkQueueOptions } from './queue.ts';
export { EventSink, type EventSinkOptions } from './event-sink.ts';
