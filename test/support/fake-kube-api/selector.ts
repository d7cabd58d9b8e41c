/** Label selectors as the API server parses them from `?labelSelector=` (equality and set forms). */
export type Requirement =
  | { readonly key: string; readonly op: 'in' | 'notin'; readonly values: readonly string[] }
  | { readonly key: string; readonly op: 'exists' | '!' };

export class SelectorError extends Error {}

/** Splits on commas that are not inside parentheses. */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;

export function parseSelector(text: string): Requirement[] {
  const out: Requirement[] = [];
  for (const term of terms(text)) {
    let m: RegExpExecArray | null;
    // The API server's lexer reads `a===b` as `a`, `==`, then `=` where a value should be.
    if (/^[^!=\s]+\s*(==|=|!=)\s*=/.test(term)) throw new SelectorError("unable to parse requirement: found '=', expected: identifier");
    if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term)) !== null) {
      out.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) });
    } else if ((m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term)) !== null) {
      out.push({ key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] });
    } else if ((m = /^!\s*(\S+)$/.exec(term)) !== null) {
      out.push({ key: m[1]!, op: '!' });
    } else if (KEY.test(term)) {
      out.push({ key: term, op: 'exists' });
    } else {
      throw new SelectorError(`unable to parse requirement: "${term}"`);
    }
    if (!KEY.test(out.at(-1)!.key)) throw new SelectorError(`invalid label key "${out.at(-1)!.key}"`);
  }
  return out;
}

export function matches(requirements: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const v = labels[r.key];
    switch (r.op) {
      case 'exists':
        return v !== undefined;
      case '!':
        return v === undefined;
      case 'in':
        return v !== undefined && r.values.includes(v);
      case 'notin':
        return v === undefined || !r.values.includes(v);
    }
  });
}
