// OpenAPI v3 value validation of a custom resource, worded as kube-openapi's validator and
// apiextensions' ValidateCustomResource word it ("spec.priority in body should be less than or
// equal to 1000"). Two names travel down: the error's field path and the name the message
// uses, which for the status subresource is relative to status ("ipv4.total in body …").
import { deepEqual, isObject, type Json } from './json.ts';
import { child, fieldErrors, fieldOf, goFloat, index, type FieldError } from './crd-messages.ts';
import { additionalOf, correlatedItem, itemsOf, properties, schemaType, type Schema } from './crd-structural.ts';

/** JSON type names as kube-openapi reports a mismatch ("must be of type integer: \"string\""). */
export function jsonType(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

function typeMatches(schema: Schema, v: Json): boolean {
  const actual = jsonType(v);
  if (schema['x-kubernetes-int-or-string'] === true) return actual === 'integer' || actual === 'string';
  const want = schemaType(schema);
  if (want === undefined) return true;
  if (want === 'number') return actual === 'number' || actual === 'integer';
  return want === actual;
}

// strfmt's formats that apiextensions accepts and a vipgate-like schema may use.
const FORMATS: Readonly<Record<string, RegExp>> = {
  'date-time': /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  byte: /^[A-Za-z0-9+/]*={0,2}$/,
};

export interface OpenApiContext {
  /** The field path of errors. */
  readonly field: string;
  /** The name the message uses ("spec.addresses"). */
  readonly name: string;
  /**
   * The old value at this place on an UPDATE (validation ratcheting, on by default since 1.30):
   * an unchanged value keeps its errors to itself. Undefined: nothing to ratchet against.
   */
  readonly old?: { readonly value: Json | undefined };
}

const at = (field: string, name: string, old: Json | undefined, hasOld: boolean): OpenApiContext => (hasOld ? { field, name, old: { value: old } } : { field, name });

export function validateOpenApi(schema: Schema, value: Json, ctx: OpenApiContext, errs: FieldError[]): void {
  if (ctx.old !== undefined && ctx.old.value !== undefined && deepEqual(ctx.old.value, value)) return;
  const field = fieldOf(ctx.field);
  const name = ctx.name;
  if (value === null && schema['nullable'] === true) return;
  if (!typeMatches(schema, value)) {
    const actual = jsonType(value);
    const want = schema['x-kubernetes-int-or-string'] === true ? 'integer,string' : schemaType(schema) ?? '';
    errs.push(fieldErrors.typeInvalid(field, actual, `${name} in body must be of type ${want}: ${JSON.stringify(actual)}`));
    return;
  }
  const oldValue = ctx.old?.value;
  const hasOld = ctx.old !== undefined;
  if (typeof value === 'string') validateString(schema, value, field, name, errs);
  if (typeof value === 'number') validateNumber(schema, value, field, name, errs);
  if (Array.isArray(schema['enum']) && !schema['enum'].some((e) => deepEqual(e, value))) errs.push(fieldErrors.notSupported(field, value, schema['enum']));
  if (Array.isArray(value)) {
    const max = schema['maxItems'];
    const min = schema['minItems'];
    if (typeof max === 'number' && value.length > max) errs.push(fieldErrors.tooMany(field, value.length, max));
    if (typeof min === 'number' && value.length < min) errs.push(fieldErrors.invalid(field, value.length, `${name} in body should have at least ${min} items`));
    const items = itemsOf(schema);
    if (items !== undefined) {
      value.forEach((v, i) => {
        const old = correlatedItem(schema, oldValue, v);
        validateOpenApi(items, v, at(index(ctx.field, i), index(name, i), old, hasOld && old !== undefined), errs);
      });
    }
  } else if (isObject(value)) {
    const count = Object.keys(value).length;
    const max = schema['maxProperties'];
    const min = schema['minProperties'];
    if (typeof max === 'number' && count > max) errs.push(fieldErrors.tooMany(field, count, max));
    if (typeof min === 'number' && count < min) errs.push(fieldErrors.invalid(field, count, `${name} in body should have at least ${min} properties`));
    const required = Array.isArray(schema['required']) ? schema['required'] : [];
    for (const r of required) if (typeof r === 'string' && value[r] === undefined) errs.push(fieldErrors.required(child(ctx.field, r)));
    const props = properties(schema);
    const additional = additionalOf(schema);
    const oldObject = isObject(oldValue) ? oldValue : undefined;
    for (const [key, v] of Object.entries(value)) {
      const sub = isObject(props?.[key]) ? props[key] : additional;
      if (sub === undefined) continue;
      validateOpenApi(sub, v, at(child(ctx.field, key), child(name, key), oldObject?.[key], hasOld && oldObject !== undefined), errs);
    }
  }
}

function validateString(schema: Schema, value: string, field: string, name: string, errs: FieldError[]): void {
  // kube-openapi counts characters, though the message says bytes.
  const length = value.length - (value.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
  const max = schema['maxLength'];
  const min = schema['minLength'];
  if (typeof max === 'number' && length > max) errs.push(fieldErrors.tooLong(field, max));
  if (typeof min === 'number' && length < min) errs.push(fieldErrors.invalid(field, value, `${name} in body should be at least ${min} chars long`));
  const pattern = schema['pattern'];
  if (typeof pattern === 'string' && !new RegExp(pattern).test(value)) errs.push(fieldErrors.invalid(field, value, `${name} in body should match '${pattern}'`));
  const format = schema['format'];
  const re = typeof format === 'string' ? FORMATS[format] : undefined;
  // kube-openapi reports a format failure as a type error (so it blocks CEL, too).
  if (typeof format === 'string' && re !== undefined && !re.test(value)) errs.push(fieldErrors.typeInvalid(field, value, `${name} in body must be of type ${format}: ${JSON.stringify(value)}`));
}

function validateNumber(schema: Schema, value: number, field: string, name: string, errs: FieldError[]): void {
  const max = schema['maximum'];
  const min = schema['minimum'];
  const multiple = schema['multipleOf'];
  if (typeof max === 'number') {
    const exclusive = schema['exclusiveMaximum'] === true;
    if (exclusive ? value >= max : value > max) errs.push(fieldErrors.invalid(field, value, `${name} in body should be less than ${exclusive ? '' : 'or equal to '}${goFloat(max)}`));
  }
  if (typeof min === 'number') {
    const exclusive = schema['exclusiveMinimum'] === true;
    if (exclusive ? value <= min : value < min) errs.push(fieldErrors.invalid(field, value, `${name} in body should be greater than ${exclusive ? '' : 'or equal to '}${goFloat(min)}`));
  }
  if (typeof multiple === 'number' && multiple > 0 && !Number.isInteger(value / multiple)) {
    errs.push(fieldErrors.invalid(field, value, `${name} in body should be a multiple of ${goFloat(multiple)}`));
  }
}

/** The errors that stop CEL from running (apiextensions' hasBlockingErr). */
export function isBlocking(e: FieldError): boolean {
  return ['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid'].includes(e.reason);
}
