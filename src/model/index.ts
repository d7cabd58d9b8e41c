export * from './service.ts';
export * from './service-table.ts';
export * from './pool.ts';
export * from './agent-input.ts';
export * from './explain-chain.ts';
