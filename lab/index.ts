export * from './errors.ts';
export * from './topology.ts';
export * from './topologies.ts';
export * from './probe.ts';
export * from './lab.ts';
export { DEFAULT_STATE_DIR } from './state.ts';
