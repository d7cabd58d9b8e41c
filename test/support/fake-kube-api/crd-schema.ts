// What a real kube-apiserver (v1.32) does with a custom resource between decoding and storage,
// driven only by the CRD: unknown fields (Strict / Warn / Ignore) and pruning, defaults, the
// status subresource's say over spec and status, OpenAPI validation with ratcheting, list-type
// invariants, and x-kubernetes-validations. The server core calls it with the whole object
// (after any patch); resourceVersion, generation, metadata and routing stay the core's.
import { clone, isObject, type Json, type JsonObject } from './json.ts';
import { badRequestStatus, fieldErrors, invalidStatus, type FieldError } from './crd-messages.ts';
import { applyDefaults, propertySchema, prune, validateListTypes, type Schema } from './crd-structural.ts';
import { isBlocking, validateOpenApi } from './crd-openapi.ts';
import { validateCel, type CelOutcome } from './crd-cel.ts';

export interface CustomResourceVerdict {
  /** The object after pruning of unknown fields and schema defaults. */
  readonly object: JsonObject;
  /** Warning header texts (unknown fields under fieldValidation Warn, the default). */
  readonly warnings: readonly string[];
  /** Set when the object is refused: HTTP code and the Status body the real server sends. */
  readonly error?: { readonly code: number; readonly status: JsonObject };
}

export interface AdmitArgs {
  readonly operation: 'CREATE' | 'UPDATE';
  readonly version: string;
  readonly object: JsonObject;
  readonly oldObject?: JsonObject;
  readonly fieldValidation: 'Strict' | 'Warn' | 'Ignore';
  readonly subresource?: 'status';
  /** The request was a PATCH (strict-decoding errors are 422 on PATCH, 400 on POST/PUT). */
  readonly patch: boolean;
}

const NOT_CHECKED = 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

interface CrdFacts {
  readonly group: string;
  readonly kind: string;
  readonly schema: Schema;
  readonly statusSubresource: boolean;
}

function facts(crd: JsonObject, version: string): CrdFacts {
  const spec = isObject(crd['spec']) ? crd['spec'] : {};
  const names = isObject(spec['names']) ? spec['names'] : {};
  const versions = Array.isArray(spec['versions']) ? spec['versions'].filter(isObject) : [];
  const v = versions.find((x) => x['name'] === version);
  if (v === undefined) throw new Error(`the CRD serves no version ${version}`);
  // A top-level spec.validation/subresources is v1beta1's place; v1 keeps them per version.
  const schemaHolder = isObject(v['schema']) ? v['schema'] : isObject(spec['validation']) ? spec['validation'] : {};
  const schema = isObject(schemaHolder['openAPIV3Schema']) ? schemaHolder['openAPIV3Schema'] : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const subresources = isObject(v['subresources']) ? v['subresources'] : isObject(spec['subresources']) ? spec['subresources'] : {};
  return {
    group: typeof spec['group'] === 'string' ? spec['group'] : '',
    kind: typeof names['kind'] === 'string' ? names['kind'] : '',
    schema,
    statusSubresource: isObject(subresources['status']),
  };
}

/** Go's json.Marshal of a decoded object: keys sorted, <, > and & escaped. */
function goJson(v: Json): string {
  const sorted = (x: Json): Json => {
    if (Array.isArray(x)) return x.map(sorted);
    if (!isObject(x)) return x;
    const out: JsonObject = {};
    for (const k of Object.keys(x).sort()) out[k] = sorted(x[k]!);
    return out;
  };
  return JSON.stringify(sorted(v)).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

function strictError(f: CrdFacts, version: string, unknown: readonly string[], object: JsonObject, patch: boolean): CustomResourceVerdict['error'] {
  const detail = `strict decoding error: ${unknown.map((p) => `unknown field ${JSON.stringify(p)}`).join(', ')}`;
  if (!patch) return { code: 400, status: badRequestStatus(`${f.kind} in version ${JSON.stringify(version)} cannot be handled as a ${f.kind}: ${detail}`) };
  // A PATCH re-decodes the patched object and reports it whole, with no kind or name.
  return { code: 422, status: invalidStatus('', '', '', [fieldErrors.invalid('patch', goJson(object), detail)]) };
}

/** PrepareForCreate / PrepareForUpdate of the main resource and of /status. */
function prepare(f: CrdFacts, args: AdmitArgs, obj: JsonObject): JsonObject {
  const old = args.oldObject;
  if (args.subresource === 'status' && old !== undefined) {
    // /status may change the status only: everything else is the stored object's.
    const out = clone(old);
    if (obj['status'] === undefined) Reflect.deleteProperty(out, 'status');
    else out['status'] = obj['status'];
    return out;
  }
  if (!f.statusSubresource) return obj;
  // With a status subresource the main resource can't write status.
  const out: JsonObject = { ...obj };
  const oldStatus = args.operation === 'UPDATE' ? old?.['status'] : undefined;
  if (oldStatus === undefined) Reflect.deleteProperty(out, 'status');
  else out['status'] = clone(oldStatus);
  return out;
}

function typeMetaErrors(f: CrdFacts, version: string, obj: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  const kind = typeof obj['kind'] === 'string' ? obj['kind'] : '';
  const apiVersion = typeof obj['apiVersion'] === 'string' ? obj['apiVersion'] : '';
  if (kind !== f.kind) errs.push(fieldErrors.invalid('kind', kind, `must be ${f.kind}`));
  if (apiVersion !== `${f.group}/${version}`) errs.push(fieldErrors.invalid('apiVersion', apiVersion, `must be ${f.group}/${version}`));
  return errs;
}

function schemaErrors(f: CrdFacts, args: AdmitArgs, obj: JsonObject): FieldError[] {
  const typeMeta = typeMetaErrors(f, args.version, obj);
  // The validator stops at a wrong kind or apiVersion; the list-type and CEL checks still run.
  if (typeMeta.length > 0) return typeMeta;
  const errs: FieldError[] = [];
  const old = args.operation === 'UPDATE' ? args.oldObject : undefined;
  if (args.subresource === 'status') {
    // /status validates the status alone, and names fields relative to it in the message.
    const statusSchema = propertySchema(f.schema, 'status');
    const status = obj['status'];
    if (statusSchema !== undefined && status !== undefined) {
      validateOpenApi(statusSchema, status, { field: 'status', name: '', ...(old === undefined ? {} : { old: { value: old['status'] } }) }, errs);
    }
    return errs;
  }
  validateOpenApi(f.schema, obj, { field: '', name: '', ...(old === undefined ? {} : { old: { value: old } }) }, errs);
  return errs;
}

export function admitCustomResource(crd: JsonObject, args: AdmitArgs): CustomResourceVerdict {
  const f = facts(crd, args.version);
  const unknown: string[] = [];
  const pruned = prune(f.schema, args.object, '', unknown, true);
  if (!isObject(pruned)) throw new Error('a custom resource must be a JSON object');
  const warnings: string[] = [];
  if (unknown.length > 0 && args.fieldValidation === 'Strict') {
    return { object: pruned, warnings, error: strictError(f, args.version, unknown, args.object, args.patch)! };
  }
  if (args.fieldValidation === 'Warn') for (const p of unknown) warnings.push(`unknown field ${JSON.stringify(p)}`);
  const defaulted = applyDefaults(f.schema, pruned) as JsonObject;
  const obj = prepare(f, args, defaulted);

  const errs = schemaErrors(f, args, obj);
  validateListTypes(f.schema, obj, '', errs);
  if (errs.some(isBlocking)) errs.push(fieldErrors.invalid('<nil>', null, NOT_CHECKED));
  else {
    const cel: CelOutcome = { errors: [], warnings: [] };
    const old = args.operation === 'UPDATE' ? args.oldObject : undefined;
    validateCel(f.schema, obj, { path: '', root: true, ...(old === undefined ? {} : { old: { value: old } }) }, cel);
    errs.push(...cel.errors);
    warnings.push(...cel.warnings);
  }
  if (errs.length === 0) return { object: obj, warnings };
  const meta = isObject(obj['metadata']) ? obj['metadata'] : {};
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  const kind = typeof obj['kind'] === 'string' ? obj['kind'] : f.kind;
  return { object: obj, warnings, error: { code: 422, status: invalidStatus(f.group, kind, name, errs) } };
}
