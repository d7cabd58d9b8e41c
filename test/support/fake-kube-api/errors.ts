import type { JsonObject } from './json.ts';

/** One field error as the API server lists it in `details.causes`. */
export interface Cause {
  readonly reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueNotSupported' | 'FieldValueDuplicate';
  /** Without the field: "Required value", "Invalid value: 0: must be greater than 0". */
  readonly message: string;
  readonly field: string;
}

/**
 * A refusal in API terms: HTTP status, `reason` as a real server names it (empty: none, as the
 * 500 for a non-numeric resourceVersion), the message, and `details` when the server sends them.
 */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
  }

  get status(): JsonObject {
    return statusBody(this.code, this.reason, this.message, this.details);
  }
}

export function statusBody(code: number, reason: string, message: string, details?: JsonObject): JsonObject {
  return {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message,
    ...(reason === '' ? {} : { reason }),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

/** What an error names: the resource (`leases`, group `coordination.k8s.io`). */
export interface Named {
  readonly group: string;
  readonly plural: string;
  readonly kind: string;
}

export const qualified = (r: Named): string => (r.group === '' ? r.plural : `${r.plural}.${r.group}`);
const resourceDetails = (r: Named, name: string): JsonObject => ({ name, ...(r.group === '' ? {} : { group: r.group }), kind: r.plural });

export const notFound = (r: Named, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, resourceDetails(r, name));

export const alreadyExists = (r: Named, name: string): ApiError =>
  new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, resourceDetails(r, name));

export const conflict = (r: Named, name: string): ApiError =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, resourceDetails(r, name));

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);

/** A decoding failure: the body is not a valid object of the kind (wrong JSON type, bad time). */
export const cannotHandle = (r: { readonly kind: string; readonly version: string }, detail: string): ApiError =>
  badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${detail}`);

function causeList(causes: readonly Cause[]): string {
  const texts = causes.map((c) => `${c.field}: ${c.message}`);
  return texts.length === 1 ? texts[0]! : `[${texts.join(', ')}]`;
}

/** 422 from validation: `Service "x" is invalid: spec.ports: Required value` (kind-qualified). */
export function invalid(r: Named, name: string, causes: readonly Cause[]): ApiError {
  const what = r.group === '' ? r.kind : `${r.kind}.${r.group}`;
  return new ApiError(422, 'Invalid', `${what} "${name}" is invalid: ${causeList(causes)}`, {
    ...(name === '' ? {} : { name }), ...(r.group === '' ? {} : { group: r.group }), kind: r.kind, causes: causes as unknown as JsonObject[],
  });
}

/** 422 raised by the generic registry (a missing resourceVersion): named by resource, not kind. */
export function invalidResource(r: Named, name: string, causes: readonly Cause[]): ApiError {
  return new ApiError(422, 'Invalid', `${qualified(r)} "${name}" is invalid: ${causeList(causes)}`, { ...resourceDetails(r, name), causes: causes as unknown as JsonObject[] });
}

/** Go's %v of a value in "Invalid value: …" texts: strings quoted, numbers bare. */
export const goValue = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export const field = {
  required: (f: string, detail?: string): Cause => ({ reason: 'FieldValueRequired', message: detail === undefined ? 'Required value' : `Required value: ${detail}`, field: f }),
  invalid: (f: string, value: unknown, detail: string): Cause => ({ reason: 'FieldValueInvalid', message: `Invalid value: ${goValue(value)}: ${detail}`, field: f }),
  forbidden: (f: string, detail: string): Cause => ({ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field: f }),
  notSupported: (f: string, value: unknown, supported: readonly string[]): Cause => ({
    reason: 'FieldValueNotSupported', message: `Unsupported value: ${goValue(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`, field: f,
  }),
};
