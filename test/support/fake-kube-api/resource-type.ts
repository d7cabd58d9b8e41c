import type { Cause, Named } from './errors.ts';
import type { JsonObject } from './json.ts';
import type { Fields } from './known-fields.ts';

/** What a kind's strategy sees of a write. */
export interface WriteContext {
  readonly operation: 'CREATE' | 'UPDATE';
  readonly subresource: 'status' | undefined;
  /** The stored object an update replaces. */
  readonly old: JsonObject | undefined;
  /** Cluster IPs and node ports in use, shared by all Services of the server. */
  readonly allocator: Allocator;
  /** Warning headers the write produces. */
  readonly warnings: string[];
}

/** One kind the fake serves: where it lives in the URL space and how its registry strategy behaves. */
export interface ResourceType extends Named {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Kinds that are views of the same objects (core/v1 and events.k8s.io/v1 Events) share a storage key. */
  readonly storage: string;
  /** With a /status subresource, the main resource ignores status and /status ignores the rest. */
  readonly hasStatus: boolean;
  readonly hasGeneration: boolean;
  /** A PUT without metadata.resourceVersion is accepted (false: 422, as Leases and custom resources). */
  readonly unconditionalUpdate: boolean;
  /** A PUT to a missing object creates it (Leases, Events, EndpointSlices). */
  readonly createOnUpdate: boolean;
  /** DELETE answers with the object rather than a Status (Services, Pods, Namespaces). */
  readonly deleteReturnsObject: boolean;
  /** Known top-level fields besides apiVersion, kind and metadata; undefined: not checked. */
  readonly fields?: readonly string[];
  /** Known fields all the way down (the kinds vipgate writes), checked instead of `fields`. */
  readonly known?: Fields;
  /** Type checks the JSON decoder makes (400 on failure) and re-formatting of times, in place. */
  readonly decode?: (obj: JsonObject) => void;
  /** From this version's wire form to the stored form, and back (Events seen through events.k8s.io). */
  readonly toStored?: (obj: JsonObject) => JsonObject;
  readonly fromStored?: (obj: JsonObject) => JsonObject;
  /** Defaults and server-set fields (PrepareForCreate/Update and the defaulting functions), in place. */
  readonly prepare?: (obj: JsonObject, ctx: WriteContext) => void;
  /** Field errors: a non-empty list refuses the write with 422. */
  readonly validate?: (obj: JsonObject, ctx: WriteContext) => Cause[];
  /** Allocations (cluster IPs, node ports), once the object is valid. */
  readonly allocate?: (obj: JsonObject, ctx: WriteContext) => void;
  /** Gives back what the object held (cluster IPs, node ports) when it is deleted. */
  readonly release?: (obj: JsonObject, allocator: Allocator) => void;
  /** For a custom resource: the CustomResourceDefinition it is served from. */
  readonly crd?: JsonObject;
}

export function apiVersionOf(r: { readonly group: string; readonly version: string }): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

type Options = Partial<ResourceType> & Pick<ResourceType, 'group' | 'version' | 'plural' | 'kind' | 'namespaced'>;

/** A built-in kind with the generic registry's defaults (unconditional updates allowed, no create-on-update). */
export function builtin(o: Options): ResourceType {
  return {
    storage: `${o.group}/${o.plural}`, hasStatus: false, hasGeneration: false, unconditionalUpdate: true, createOnUpdate: false, deleteReturnsObject: false,
    ...o,
  };
}

/** Service allocations: the service CIDR 10.96.0.0/16 and the node-port range 30000–32767. */
export class Allocator {
  readonly clusterIPs = new Set<string>();
  readonly nodePorts = new Set<number>();
  #nextIP = 10;
  #nextPort = 30000;

  clusterIP(): string {
    // Sequential rather than random (the real allocator is random): tests get stable addresses.
    for (let i = 0; i < 65534; i++) {
      const n = this.#nextIP;
      this.#nextIP = n >= 65534 ? 2 : n + 1;
      const ip = `10.96.${n >> 8}.${n & 255}`;
      if (!this.clusterIPs.has(ip)) {
        this.clusterIPs.add(ip);
        return ip;
      }
    }
    throw new Error('the service CIDR 10.96.0.0/16 is full');
  }

  nodePort(): number {
    for (let i = 0; i <= 2767; i++) {
      const p = this.#nextPort;
      this.#nextPort = p >= 32767 ? 30000 : p + 1;
      if (!this.nodePorts.has(p)) {
        this.nodePorts.add(p);
        return p;
      }
    }
    throw new Error('the node-port range 30000-32767 is full');
  }
}
