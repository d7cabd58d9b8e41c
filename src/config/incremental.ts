import { hostname as osHostname } from 'node:os';
import type { AnySchemaObject, ValidateFunction } from 'ajv';
import { applyDefaults } from './defaults.ts';
import { fastPlainData, linesAreSimple, needsDocumentPath } from './fast-yaml.ts';
import { parseConfig, type ParseOptions } from './load.ts';
import type { RawConfig, RawService } from './raw.ts';
import { configAjv, configSchema } from './schema.ts';
import { semanticIssues } from './semantic.ts';
import { splitServiceItems } from './service-items.ts';
import { CONFIG_API_VERSION, CONFIG_KIND, type AgentConfig, type ServiceConfig } from './types.ts';

/** A service item read before: its settings, and its `namespace/name` for the duplicate check. */
interface KnownItem {
  readonly service: ServiceConfig;
  readonly key: string;
}

/** What the last good read left to build on. */
interface Known {
  /** The text outside the services list (src/config/service-items.ts). */
  readonly head: string;
  /** The last good config: everything but `services` is taken from it as it is. */
  readonly config: AgentConfig;
  readonly items: ReadonlyMap<string, KnownItem>;
}

/**
 * More new items than this, and the whole file is read again: checking items one by one costs
 * more per item than the whole-file path, which is then no slower.
 */
const MOST_NEW_ITEMS = 256;

/**
 * Reads one config file again and again (the agent's file source), re-reading only what changed:
 * when the text outside `services:` is as before, only the service items whose text is new are
 * parsed and checked — each by the same schema and the same cross-field checks, in the context
 * (pools, default SNAT) of the unchanged rest — and the others keep the settings, the very
 * objects, they had. A reload that edits one service of 10,000 costs one service's reading.
 *
 * The verdict is parseConfig's, always: any doubt — a new item the fast reader does not take, a
 * problem in it, a duplicate name, the rest of the file changed, many new items — and the whole
 * text goes through parseConfig, which places every error in the file. So an error names the
 * file, line, field path (with the item's index in the whole list), value and what is allowed
 * exactly as a full read does, and a good file gives the same config (src/config/incremental.test.ts).
 */
export class ConfigReader {
  #known: Known | undefined;

  constructor(
    private readonly fileName: string,
    private readonly options: ParseOptions = {},
  ) {}

  /** The config of `text`; throws ConfigError as parseConfig does. */
  read(text: string): AgentConfig {
    const split = splitServiceItems(text);
    const known = this.#known;
    if (split !== undefined && known !== undefined && split.head === known.head) {
      const again = readItems(split.items, known, this.options);
      if (again !== undefined) {
        // This text's head and items: nothing keeps an older text alive (its slices would).
        this.#known = { head: split.head, config: again.config, items: again.items };
        return again.config;
      }
    }
    const config = parseConfig(text, this.fileName, this.options);
    this.#known = split === undefined ? undefined : remember(split.head, split.items, config);
    return config;
  }
}

/** The cache of a whole-file read, when its items are as plain as the fast reader needs them. */
function remember(head: string, items: readonly string[], config: AgentConfig): Known | undefined {
  if (items.length !== config.services.length) return undefined;
  if (needsDocumentPath(head) || !linesAreSimple(head)) return undefined;
  const known = new Map<string, KnownItem>();
  for (const [i, text] of items.entries()) {
    // Item text that only the document path reads is never taken alone: the next read of it is whole.
    if (needsDocumentPath(text) || !linesAreSimple(text)) continue;
    const service = config.services[i]!;
    known.set(text, { service, key: `${service.namespace}/${service.name}` });
  }
  return { head, config, items: known };
}

/** The config from known and new items, or undefined when a new item needs the whole-file path. */
function readItems(texts: readonly string[], known: Known, options: ParseOptions): { config: AgentConfig; items: Map<string, KnownItem> } | undefined {
  const items = new Map<string, KnownItem>();
  const keys = new Set<string>();
  const services: ServiceConfig[] = [];
  let fresh = 0;
  for (const text of texts) {
    let item = items.get(text) ?? known.items.get(text);
    if (item === undefined) {
      if (++fresh > MOST_NEW_ITEMS) return undefined;
      item = readItem(text, known.config, options);
      if (item === undefined) return undefined;
    }
    // Two services of one name: the whole-file path words the error.
    if (keys.has(item.key)) return undefined;
    keys.add(item.key);
    items.set(text, item);
    services.push(item.service);
  }
  return { config: { ...known.config, services }, items };
}

/**
 * One new item alone: js-yaml, the schema's `services` item, the cross-field checks with the
 * known pools, the defaults with the known SNAT. Undefined for anything but a good service.
 */
function readItem(text: string, around: AgentConfig, options: ParseOptions): KnownItem | undefined {
  const read = fastPlainData(text);
  if (read === undefined || !Array.isArray(read.data) || read.data.length !== 1) return undefined;
  const raw = read.data[0] as RawService;
  if (!serviceValidator()(raw)) return undefined;
  // The pools by name only: the item's checks look no further (pool references).
  const alone = { pools: around.pools.map((p) => ({ name: p.name })), services: [raw] };
  if (semanticIssues(alone).length > 0) return undefined;
  const minimal: RawConfig = { apiVersion: CONFIG_API_VERSION, kind: CONFIG_KIND, dataplane: { snat: around.dataplane.snat }, services: [raw] };
  const service = applyDefaults(minimal, options.hostname ?? osHostname()).services[0]!;
  return { service, key: `${service.namespace}/${service.name}` };
}

let compiled: ValidateFunction<RawService> | undefined;

/** The schema of one `services` item, taken from the file's schema (compiled once, on first use). */
function serviceValidator(): ValidateFunction<RawService> {
  if (compiled !== undefined) return compiled;
  const services = (configSchema['properties'] as Record<string, AnySchemaObject>)['services'];
  compiled = configAjv({ validateSchema: false }).compile<RawService>(services?.['items'] as AnySchemaObject);
  return compiled;
}
