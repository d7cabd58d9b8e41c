import { clone, deepEqual, isObject, type Json } from './json.ts';

export class PatchError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** RFC 7386 JSON Merge Patch: objects merge, null deletes, everything else (arrays too) replaces. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) Reflect.deleteProperty(out, k);
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Strategic merge patch, as far as vipgate's objects need it: like a merge patch, except that
 * lists of objects with a known merge key (conditions by type, ports by port, ingress by ip)
 * merge element-wise. `$patch` directives are refused rather than misapplied.
 */
const MERGE_KEYS: Readonly<Record<string, string>> = { conditions: 'type', ports: 'port', ingress: 'ip' };

export function strategicMergePatch(target: Json | undefined, patch: Json, field = ''): Json {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (key === undefined || !Array.isArray(target)) return clone(patch);
    const out = clone(target);
    const added: Json[] = [];
    for (const item of patch) {
      const at = isObject(item) ? out.findIndex((t) => isObject(t) && deepEqual(t[key], item[key])) : -1;
      if (at >= 0) out[at] = strategicMergePatch(out[at], item);
      else added.push(clone(item));
    }
    // The apiserver's merge puts the patch's new items before the ones it keeps (recorded:
    // adding a port to a one-port Service makes the old port spec.ports[1]).
    return [...added, ...out];
  }
  if (!isObject(patch)) return clone(patch);
  const out = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) throw new PatchError(415, `strategic merge patch directive ${k} is not supported by this fake`);
    if (v === null) Reflect.deleteProperty(out, k);
    else out[k] = strategicMergePatch(out[k], v, k);
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(422, `JSON pointer "${path}" must start with "/"`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 JSON Patch: add, remove, replace, test, move, copy. A failing op fails the whole patch. */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError(400, 'a JSON patch must be an array of operations');
  let doc = clone(target);
  const get = (path: string[]): Json | undefined => {
    let cur: Json | undefined = doc;
    for (const seg of path) {
      if (Array.isArray(cur)) cur = cur[Number(seg)];
      else if (isObject(cur)) cur = cur[seg];
      else return undefined;
    }
    return cur;
  };
  const parentOf = (path: string[]): { parent: Json | undefined; last: string } => ({ parent: get(path.slice(0, -1)), last: path.at(-1)! });
  const remove = (path: string[]): Json => {
    const { parent, last } = parentOf(path);
    if (Array.isArray(parent) && Number(last) < parent.length) return parent.splice(Number(last), 1)[0]!;
    if (isObject(parent) && last in parent) {
      const v = parent[last]!;
      Reflect.deleteProperty(parent, last);
      return v;
    }
    throw new PatchError(422, `remove: path /${path.join('/')} does not exist`);
  };
  const add = (path: string[], value: Json): void => {
    if (path.length === 0) {
      doc = value;
      return;
    }
    const { parent, last } = parentOf(path);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i > parent.length) throw new PatchError(422, `add: index ${last} out of range`);
      parent.splice(i, 0, value);
    } else if (isObject(parent)) parent[last] = value;
    else throw new PatchError(422, `add: parent of /${path.join('/')} does not exist`);
  };
  for (const op of ops) {
    if (!isObject(op) || typeof op['op'] !== 'string' || typeof op['path'] !== 'string') throw new PatchError(400, 'each JSON patch operation needs "op" and "path"');
    const path = pointer(op['path']);
    const value = op['value'] === undefined ? null : clone(op['value']);
    switch (op['op']) {
      case 'add':
        add(path, value);
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        remove(path);
        add(path, value);
        break;
      case 'test':
        if (!deepEqual(get(path), value)) throw new PatchError(422, `test failed at ${op['path']}`);
        break;
      case 'move':
      case 'copy': {
        const from = pointer(typeof op['from'] === 'string' ? op['from'] : '');
        const v = op['op'] === 'move' ? remove(from) : clone(get(from) ?? null);
        add(path, v);
        break;
      }
      default:
        throw new PatchError(400, `unknown JSON patch op "${op['op']}"`);
    }
  }
  return doc;
}
