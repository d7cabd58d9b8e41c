import { isObject, type Json } from './json.ts';

/**
 * A small structural schema, enough to refuse what a real API server refuses: unknown fields
 * (where a schema lists its fields), wrong types, missing required fields. Not OpenAPI: only the
 * fields vipgate and its tests touch are described; `any` marks the rest.
 */
export type Schema =
  | { readonly type: 'string'; readonly enum?: readonly string[] }
  | { readonly type: 'integer'; readonly min?: number; readonly max?: number }
  | { readonly type: 'boolean' | 'any' | 'int-or-string' }
  | { readonly type: 'array'; readonly items: Schema }
  | { readonly type: 'map'; readonly values: Schema }
  | { readonly type: 'object'; readonly fields: Readonly<Record<string, Schema>>; readonly required?: readonly string[] };

/** Returns the first problem as "path: what is wrong (what is allowed)", or undefined. */
export function check(schema: Schema, value: Json | undefined, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  switch (schema.type) {
    case 'any':
      return undefined;
    case 'string':
      if (typeof value !== 'string') return `${path}: Invalid value: ${JSON.stringify(value)}: must be a string`;
      if (schema.enum !== undefined && !schema.enum.includes(value)) {
        return `${path}: Unsupported value: "${value}": supported values: ${schema.enum.map((e) => `"${e}"`).join(', ')}`;
      }
      return undefined;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return `${path}: Invalid value: ${JSON.stringify(value)}: must be an integer`;
      if ((schema.min !== undefined && value < schema.min) || (schema.max !== undefined && value > schema.max)) {
        return `${path}: Invalid value: ${value}: must be between ${schema.min ?? '-inf'} and ${schema.max ?? 'inf'}, inclusive`;
      }
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `${path}: Invalid value: ${JSON.stringify(value)}: must be a boolean`;
    case 'int-or-string':
      return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))
        ? undefined
        : `${path}: Invalid value: ${JSON.stringify(value)}: must be an integer or a string`;
    case 'array': {
      if (!Array.isArray(value)) return `${path}: Invalid value: ${JSON.stringify(value)}: must be an array`;
      for (const [i, item] of value.entries()) {
        const problem = check(schema.items, item, `${path}[${i}]`);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    case 'map': {
      if (!isObject(value)) return `${path}: Invalid value: ${JSON.stringify(value)}: must be an object`;
      for (const [k, v] of Object.entries(value)) {
        const problem = check(schema.values, v, `${path}.${k}`);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    case 'object': {
      if (!isObject(value)) return `${path}: Invalid value: ${JSON.stringify(value)}: must be an object`;
      for (const name of schema.required ?? []) {
        if (value[name] === undefined || value[name] === null) return `${path}.${name}: Required value`;
      }
      for (const [k, v] of Object.entries(value)) {
        const field = schema.fields[k];
        if (field === undefined) return `${path}: unknown field "${k}" (known: ${Object.keys(schema.fields).join(', ')})`;
        const problem = check(field, v, `${path}.${k}`);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
  }
}

export const S = {
  str: { type: 'string' } as Schema,
  int: { type: 'integer' } as Schema,
  bool: { type: 'boolean' } as Schema,
  any: { type: 'any' } as Schema,
  strs: { type: 'array', items: { type: 'string' } } as Schema,
  labels: { type: 'map', values: { type: 'string' } } as Schema,
  enumOf: (...values: string[]): Schema => ({ type: 'string', enum: values }),
  arr: (items: Schema): Schema => ({ type: 'array', items }),
  obj: (fields: Record<string, Schema>, required?: string[]): Schema => (required === undefined ? { type: 'object', fields } : { type: 'object', fields, required }),
} as const;
