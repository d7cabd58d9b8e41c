export * from './errors.ts';
export * from './runner.ts';
export * from './observe.ts';
export * from './plan.ts';
export * from './host.ts';
