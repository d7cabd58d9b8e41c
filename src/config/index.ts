export * from './errors.ts';
export * from './types.ts';
export { parseConfig, loadConfigFile, readConfigText, type ParseOptions } from './load.ts';
export { ConfigReader } from './incremental.ts';
export { poolsFromConfig, servicesFromConfig } from './to-model.ts';
export { checkL2Interfaces, l2InterfaceLookup, l2InterfacesFor, type HostInterfaces } from './l2-host.ts';
export { configSchema } from './schema.ts';
export { DEFAULT_LISTEN, DEFAULT_VIP_INTERFACE, DEFAULT_RESYNC_SECONDS, DEFAULT_NAMESPACE, DEFAULT_BGP_DRAIN } from './defaults.ts';
