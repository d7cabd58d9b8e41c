export { Allocator, type ExternalIPVerdict, type PoolStats } from './allocator.ts';
export { allocateAll } from './allocate-all.ts';
export { IpamError, IpamErrorCode, type IpamErrorDetails } from './errors.ts';
export type { AllocationRequest, AllocationResult } from './request.ts';
export { selectorMatches, selectorProblem } from './selector.ts';
