export * from './errors.ts';
export * from './ownership.ts';
export * from './wire/arp.ts';
export * from './wire/ethernet.ts';
export * from './wire/ndp.ts';
