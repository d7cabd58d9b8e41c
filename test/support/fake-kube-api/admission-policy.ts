// Placeholder: allows everything. To be replaced by the ValidatingAdmissionPolicy evaluation
// module (admission.json); keep the signatures.
import type { JsonObject } from './json.ts';

export interface AdmissionAttributes {
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE';
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly kind: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly object: JsonObject | null;
  readonly oldObject: JsonObject | null;
  readonly userInfo: { readonly username: string; readonly groups: readonly string[] };
  readonly dryRun: boolean;
}

export interface AdmissionCluster {
  /** Stored ValidatingAdmissionPolicies and their bindings (admissionregistration.k8s.io/v1). */
  policies(): readonly JsonObject[];
  bindings(): readonly JsonObject[];
  /** Objects of a kind, for params (paramKind apiVersion+kind; namespace undefined: cluster-scoped or all). */
  list(apiVersion: string, kind: string, namespace?: string): readonly JsonObject[] | 'not-served';
  /** The Namespace object, for namespaceObject. */
  namespace(name: string): JsonObject | undefined;
}

export type AdmissionVerdict = { readonly allowed: true; readonly warnings: readonly string[] } | { readonly allowed: false; readonly code: number; readonly status: JsonObject };

// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function admit(attrs: AdmissionAttributes, cluster: AdmissionCluster): AdmissionVerdict {
  return { allowed: true, warnings: [] };
}
