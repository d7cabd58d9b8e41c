export { poolFromResource, poolsFromResources, type PoolProblem } from './resources.ts';
export * from './service-fields.ts';
