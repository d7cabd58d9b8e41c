// Field errors and Status bodies worded exactly as k8s.io/apimachinery's field.Error and
// errors.NewInvalid word them, so a test reading the fake's answer reads the real server's.
import type { Json, JsonObject } from './json.ts';

/** The `reason` of a Status cause: field.ErrorType as the API reports it. */
export type CauseReason =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueTypeInvalid'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'InternalError';

const TYPE_TEXT: Readonly<Record<CauseReason, string>> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueForbidden: 'Forbidden',
  InternalError: 'Internal error',
};

export interface FieldError {
  readonly reason: CauseReason;
  /** A field.Path rendered (`spec.pools[0].cidrs`); `<nil>` for the object itself, as Go prints a nil path. */
  readonly field: string;
  /** field.Error.ErrorBody(): the message of the Status cause. */
  readonly body: string;
}

/** A Go float64 as `%v` prints it: shortest digits, exponent form from 1e6 or below 1e-4 (1e+06). */
export function goFloat(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
  if (n === 0) return '0';
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  // strconv 'g' with the shortest precision switches to %e at an exponent of 6 or below -4.
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

/** `%#v` of a decoded JSON value (map[string]interface {} and friends), as field.Duplicate prints list-map keys. */
function goSharpV(v: Json): string {
  if (v === null) return '<nil>';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : goFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[]interface {}{${v.map(goSharpV).join(', ')}}`;
  // Go prints map keys sorted.
  const keys = Object.keys(v).sort();
  return `map[string]interface {}{${keys.map((k) => `${JSON.stringify(k)}:${goSharpV(v[k]!)}`).join(', ')}}`;
}

/** How field.Error prints a bad value: strings quoted, numbers and booleans plain, null as "null". */
export function goValue(v: Json): string {
  if (v === null) return '"null"';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : goFloat(v);
  if (typeof v === 'boolean') return String(v);
  return goSharpV(v);
}

function withDetail(head: string, detail: string): string {
  return detail === '' ? head : `${head}: ${detail}`;
}

export const fieldErrors = {
  invalid: (field: string, value: Json, detail: string): FieldError => ({ reason: 'FieldValueInvalid', field, body: withDetail(`Invalid value: ${goValue(value)}`, detail) }),
  typeInvalid: (field: string, value: Json, detail: string): FieldError => ({ reason: 'FieldValueTypeInvalid', field, body: withDetail(`Invalid value: ${goValue(value)}`, detail) }),
  required: (field: string, detail = ''): FieldError => ({ reason: 'FieldValueRequired', field, body: withDetail(TYPE_TEXT.FieldValueRequired, detail) }),
  forbidden: (field: string, detail: string): FieldError => ({ reason: 'FieldValueForbidden', field, body: withDetail(TYPE_TEXT.FieldValueForbidden, detail) }),
  duplicate: (field: string, value: Json): FieldError => ({ reason: 'FieldValueDuplicate', field, body: `Duplicate value: ${goValue(value)}` }),
  notSupported: (field: string, value: Json, supported: readonly Json[]): FieldError => ({
    reason: 'FieldValueNotSupported',
    field,
    // Strings are quoted, other allowed values JSON-encoded (then quoted), as apiextensions does.
    body: `Unsupported value: ${goValue(value)}: supported values: ${supported.map((s) => JSON.stringify(typeof s === 'string' ? s : JSON.stringify(s))).join(', ')}`,
  }),
  tooLong: (field: string, max: number): FieldError => ({ reason: 'FieldValueTooLong', field, body: `Too long: may not be more than ${max} bytes` }),
  tooMany: (field: string, actual: number, max: number): FieldError => ({
    reason: 'FieldValueTooMany',
    field,
    body: `Too many: ${actual}: must have at most ${max} ${max === 1 ? 'item' : 'items'}`,
  }),
};

/** field.Error.Error(): the path, then the body. */
export function errorText(e: FieldError): string {
  return `${e.field}: ${e.body}`;
}

/** utilerrors.Aggregate's message: one error bare, several in brackets, repeats once. */
function aggregate(errs: readonly FieldError[]): string {
  const seen = new Set<string>();
  const texts: string[] = [];
  for (const e of errs) {
    const t = errorText(e);
    if (!seen.has(t)) texts.push(t);
    seen.add(t);
  }
  return texts.length === 1 ? texts[0]! : `[${texts.join(', ')}]`;
}

/** errors.NewInvalid(groupKind, name, errs): 422 reason Invalid, one cause per error. */
export function invalidStatus(group: string, kind: string, name: string, errs: readonly FieldError[]): JsonObject {
  const qualified = group === '' ? kind : `${kind}.${group}`;
  const details: JsonObject = {};
  // metav1.StatusDetails omits empty strings.
  if (name !== '') details['name'] = name;
  if (group !== '') details['group'] = group;
  if (kind !== '') details['kind'] = kind;
  details['causes'] = errs.map((e) => ({ reason: e.reason, message: e.body, field: e.field }));
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${qualified} ${JSON.stringify(name)} is invalid: ${aggregate(errs)}`,
    reason: 'Invalid',
    details,
    code: 422,
  };
}

export function badRequestStatus(message: string): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'BadRequest', code: 400 };
}

/** The `Warning:` header value for a warning text (RFC 7234 code 299, agent "-"). */
export function warningHeader(text: string): string {
  return `299 - ${JSON.stringify(text)}`;
}

/** field.Path helpers: `a.b`, `a[0]`. The root path is ''. */
export const child = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);
export const index = (path: string, i: number): string => `${path}[${i}]`;
/** The field of an error at `path`: Go prints a nil path as `<nil>`. */
export const fieldOf = (path: string): string => (path === '' ? '<nil>' : path);
