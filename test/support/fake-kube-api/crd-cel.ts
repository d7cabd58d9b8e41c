// x-kubernetes-validations, evaluated the way apiextensions-apiserver's CEL validator does:
// rules of a node before its children, `self` typed by the schema (integers are CEL ints),
// `oldSelf` only on an UPDATE and only where the old value corresponds (transition rules are
// skipped otherwise), messageExpression, fieldPath and reason, and errors printed with the
// schema's type name as the "value" (`Invalid value: "string": …`), as the real server prints them.
import type { ParseResult } from '@marcbachmann/cel-js';
import { kubernetesCel } from '../../../src/manifests/cel.test-support.ts';
import { deepEqual, isObject, type Json } from './json.ts';
import { child, errorText, fieldErrors, fieldOf, index, type FieldError } from './crd-messages.ts';
import { additionalOf, correlatedItem, itemsOf, properties, schemaType, type Schema } from './crd-structural.ts';

interface Rule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly fieldPath?: string;
  readonly reason?: string;
  readonly optionalOldSelf?: boolean;
}

export interface CelOutcome {
  readonly errors: FieldError[];
  /** Errors of unchanged values on an UPDATE (validation ratcheting): warnings, not refusals. */
  readonly warnings: string[];
}

const env = kubernetesCel();
const programs = new Map<string, ParseResult>();

function program(expression: string): ParseResult {
  let p = programs.get(expression);
  if (p === undefined) {
    p = env.parse(expression);
    programs.set(expression, p);
  }
  return p;
}

function rulesOf(schema: Schema): Rule[] {
  const raw = schema['x-kubernetes-validations'];
  if (!Array.isArray(raw)) return [];
  return raw.filter(isObject).flatMap((r): Rule[] => {
    if (typeof r['rule'] !== 'string') return [];
    const s = (k: string): string | undefined => (typeof r[k] === 'string' ? r[k] : undefined);
    return [
      {
        rule: r['rule'],
        ...(s('message') === undefined ? {} : { message: s('message')! }),
        ...(s('messageExpression') === undefined ? {} : { messageExpression: s('messageExpression')! }),
        ...(s('fieldPath') === undefined ? {} : { fieldPath: s('fieldPath')! }),
        ...(s('reason') === undefined ? {} : { reason: s('reason')! }),
        ...(r['optionalOldSelf'] === true ? { optionalOldSelf: true } : {}),
      },
    ];
  });
}

/** A JSON value as CEL sees it under this schema: integers become CEL ints (BigInt). */
export function celValue(schema: Schema | undefined, v: Json, root = false): unknown {
  if (v === null) return null;
  if (typeof v === 'number') {
    const t = schema === undefined ? undefined : schemaType(schema);
    return t === 'number' || !Number.isInteger(v) ? v : BigInt(v);
  }
  if (Array.isArray(v)) {
    const items = schema === undefined ? undefined : itemsOf(schema);
    return v.map((x) => celValue(items, x));
  }
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  const props = schema === undefined ? undefined : properties(schema);
  const additional = schema === undefined ? undefined : additionalOf(schema);
  for (const [k, x] of Object.entries(v)) {
    // At the root, rules see only metadata.name and metadata.generateName.
    if (root && k === 'metadata' && isObject(x)) {
      const m: Record<string, unknown> = {};
      for (const f of ['name', 'generateName']) if (typeof x[f] === 'string') m[f] = x[f];
      out[k] = m;
      continue;
    }
    const sub = props?.[k];
    out[k] = celValue(isObject(sub) ? sub : additional, x);
  }
  return out;
}

/** cel-go's wording of an evaluation error, from cel-js's. */
function celGoError(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  if (code === 'int_conversion_error') return "type conversion error from 'string' to 'int'";
  const first = e.message.split('\n')[0]!.trim();
  return first.charAt(0).toLowerCase() + first.slice(1);
}

const ruleText = (r: Rule): string => (r.message !== undefined && r.message !== '' ? r.message.trim() : r.rule.trim());
const ruleMessageOrDefault = (r: Rule): string => (r.message !== undefined && r.message !== '' ? r.message.trim() : `failed rule: ${ruleText(r)}`);

function errorForReason(path: string, typeName: string, detail: string, reason: string | undefined): FieldError {
  switch (reason) {
    case 'FieldValueForbidden':
      return fieldErrors.forbidden(fieldOf(path), detail);
    case 'FieldValueRequired':
      return fieldErrors.required(fieldOf(path), detail);
    case 'FieldValueDuplicate':
      return fieldErrors.duplicate(fieldOf(path), typeName);
    default:
      return fieldErrors.invalid(fieldOf(path), typeName, detail);
  }
}

/** messageExpression's text, or why it has none (apiextensions' evalMessageExpression). */
function messageOf(rule: Rule, vars: Record<string, unknown>): { text: string } | { invalid: string } {
  if (rule.messageExpression === undefined) return { text: ruleMessageOrDefault(rule) };
  let out: unknown;
  try {
    out = program(rule.messageExpression)(vars);
  } catch {
    // The real server logs a failed messageExpression and falls back to the static message.
    return { text: ruleMessageOrDefault(rule) };
  }
  if (typeof out !== 'string') return { text: ruleMessageOrDefault(rule) };
  const text = out.trim();
  if (text === '') return { invalid: 'messageExpression should evaluate to a non-empty string' };
  if (/[\r\n]/.test(text)) return { invalid: 'messageExpression should not contain line breaks' };
  return { text };
}

interface Walk {
  readonly path: string;
  /** The corresponding old value, when there is one (UPDATE, correlatable). */
  readonly old?: { readonly value: Json };
  readonly root: boolean;
}

export function validateCel(schema: Schema, value: Json, walk: Walk, out: CelOutcome): void {
  if (value === null) return;
  const rules = rulesOf(schema);
  if (rules.length > 0) evaluateRules(schema, rules, value, walk, out);
  if (Array.isArray(value)) {
    const items = itemsOf(schema);
    if (items === undefined) return;
    value.forEach((v, i) => {
      const old = walk.old === undefined ? undefined : correlatedItem(schema, walk.old.value, v);
      validateCel(items, v, { path: index(walk.path, i), root: false, ...(old === undefined ? {} : { old: { value: old } }) }, out);
    });
  } else if (isObject(value)) {
    const props = properties(schema);
    const additional = additionalOf(schema);
    const oldObject = walk.old !== undefined && isObject(walk.old.value) ? walk.old.value : undefined;
    for (const [key, v] of Object.entries(value)) {
      if (walk.root && key === 'metadata') continue;
      const sub = isObject(props?.[key]) ? props[key] : additional;
      if (sub === undefined) continue;
      const old = oldObject?.[key];
      validateCel(sub, v, { path: child(walk.path, key), root: false, ...(old === undefined ? {} : { old: { value: old } }) }, out);
    }
  }
}

function evaluateRules(schema: Schema, rules: readonly Rule[], value: Json, walk: Walk, out: CelOutcome): void {
  const typeName = schemaType(schema) ?? '';
  const vars: Record<string, unknown> = { self: celValue(schema, value, walk.root) };
  if (walk.old !== undefined) vars['oldSelf'] = celValue(schema, walk.old.value, walk.root);
  const unchanged = walk.old !== undefined && deepEqual(walk.old.value, value);
  for (const rule of rules) {
    const usesOldSelf = /\boldSelf\b/.test(rule.rule);
    // A transition rule has nothing to compare on a create or an uncorrelated item. Not
    // modelled: optionalOldSelf (such a rule would run with oldSelf an empty optional; here it is
    // skipped like any transition rule) and the runtime cost budget (a rule over budget fails).
    if (usesOldSelf && walk.old === undefined) continue;
    let result: unknown;
    try {
      result = program(rule.rule)(vars);
    } catch (err) {
      out.errors.push(fieldErrors.invalid(fieldOf(walk.path), typeName, `${celGoError(err)} evaluating rule: ${ruleText(rule)}`));
      continue;
    }
    if (result === true) continue;
    const path = rule.fieldPath === undefined ? walk.path : child(walk.path, rule.fieldPath.replace(/^\./, ''));
    const message = messageOf(rule, vars);
    const error = 'invalid' in message ? fieldErrors.invalid(fieldOf(path), typeName, message.invalid) : errorForReason(path, typeName, message.text, rule.reason);
    // Ratcheting: an unchanged value's failure (of a rule that doesn't read oldSelf) only warns.
    if (unchanged && !usesOldSelf) out.warnings.push(errorText(error));
    else out.errors.push(error);
  }
}
