export { poolFromResource, poolsFromResources, type PoolProblem } from './resources.ts';
export * from './service-fields.ts';
export { externalIPParamsData } from './external-ip-params.ts';
export * from './names.ts';
