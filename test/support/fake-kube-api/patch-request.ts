// PATCH bodies: the four content types the apiserver accepts, and its answers for the rest.
import { parse as parseYaml } from 'yaml';
import { ApiError, badRequest } from './errors.ts';
import { isObject, type Json, type JsonObject } from './json.ts';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from './patch.ts';

/** Go's encoding/json words for a body JSON.parse refuses. */
export function goJsonError(body: string, error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  if (/end of (JSON )?input|Unterminated/i.test(text) || body.trim() === '') return 'unexpected end of JSON input';
  const at = /position (\d+)/.exec(text);
  const ch = at === null ? body.trim()[0] ?? '' : body[Number(at[1])] ?? '';
  return `invalid character '${ch}' looking for beginning of value`;
}

export function applyPatch(current: JsonObject, body: string, contentType: string, opts: { fieldManager: string | undefined; custom: boolean }): JsonObject {
  const type = contentType.split(';')[0]!.trim();
  const known = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml', 'application/apply-patch+cbor'];
  if (!known.includes(type) || (opts.custom && type === 'application/strategic-merge-patch+json')) {
    throw new ApiError(415, 'UnsupportedMediaType', '415: Unsupported Media Type', {});
  }
  if (type.startsWith('application/apply-patch') && (opts.fieldManager === undefined || opts.fieldManager === '')) {
    throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
      group: 'meta.k8s.io', kind: 'PatchOptions', causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
    });
  }
  let patch: Json;
  try {
    // An apply patch is YAML (JSON being a subset); the others are JSON.
    patch = (type.startsWith('application/apply-patch') ? parseYaml(body) : JSON.parse(body)) as Json;
  } catch (error) {
    throw badRequest(`error decoding patch: ${goJsonError(body, error)}`);
  }
  let patched: Json;
  try {
    if (type === 'application/json-patch+json') patched = jsonPatch(current, patch);
    else if (type === 'application/strategic-merge-patch+json') patched = strategicMergePatch(current, patch);
    // Server-side apply, approximated: the applied configuration merged over the live object.
    else patched = mergePatch(current, patch);
  } catch (error) {
    if (!(error instanceof PatchError)) throw error;
    // The apiserver hides the JSON-patch library's reason behind a generic 422.
    throw new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
  }
  if (!isObject(patched)) throw new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
  return patched;
}
