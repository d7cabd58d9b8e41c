// `?fieldSelector=`: equality on dotted paths (involvedObject.name=x, metadata.namespace!=y).
import { badRequest } from './errors.ts';
import { isObject, type Json, type JsonObject } from './json.ts';

export interface FieldRequirement {
  readonly path: readonly string[];
  readonly value: string;
  readonly negate: boolean;
}

export function parseFieldSelector(text: string): FieldRequirement[] {
  if (text.trim() === '') return [];
  return text.split(',').map((term) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term);
    if (m === null) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    return { path: m[1]!.split('.'), value: m[3]!, negate: m[2] === '!=' };
  });
}

export function matchesFields(reqs: readonly FieldRequirement[], o: JsonObject): boolean {
  return reqs.every((r) => {
    let cur: Json | undefined = o;
    for (const step of r.path) cur = isObject(cur) ? cur[step] : undefined;
    const v = cur === undefined || cur === null ? '' : typeof cur === 'string' ? cur : JSON.stringify(cur);
    return (v === r.value) !== r.negate;
  });
}
