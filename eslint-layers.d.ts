// Types for eslint-layers.js (plain JavaScript so that eslint.config.js can load it without a build).
import type { ESLint } from 'eslint';

export const ALLOWED: Readonly<Record<string, readonly string[]>>;
export const KNOWN_EXCEPTIONS: ReadonlySet<string>;
export const layersPlugin: ESLint.Plugin;
