// Placeholder: accepts every custom resource unchanged. To be replaced by the CRD schema and CEL
// validation module (the real server's exact messages, crd-validation.json); keep the signature.
import type { JsonObject } from './json.ts';

export interface CustomResourceVerdict {
  /** The object after pruning of unknown fields and schema defaults. */
  readonly object: JsonObject;
  /** Warning header texts (unknown fields under fieldValidation Warn, the default). */
  readonly warnings: readonly string[];
  /** Set when the object is refused: HTTP code and the Status body the real server sends. */
  readonly error?: { readonly code: number; readonly status: JsonObject };
}

export function admitCustomResource(
  crd: JsonObject /* the CustomResourceDefinition as stored */,
  args: {
    readonly operation: 'CREATE' | 'UPDATE';
    readonly version: string;
    readonly object: JsonObject;
    readonly oldObject?: JsonObject;
    readonly fieldValidation: 'Strict' | 'Warn' | 'Ignore';
    readonly subresource?: 'status';
    /** The request was a PATCH (strict-decoding errors are 422 on PATCH, 400 on POST/PUT). */
    readonly patch: boolean;
  },
): CustomResourceVerdict {
  return { object: args.object, warnings: [] };
}
