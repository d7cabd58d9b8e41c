// admitCustomResource (the fake API server's custom resource handling, a pure function) replayed
// against crd-validation.json, recorded from a real kube-apiserver v1.32: every create, update,
// patch and /status write of vipgate's 5 CRDs gets the same code, message, reason and details,
// the same Warning headers, and on success the same spec and status (defaults, pruning). The
// CRDs are the ones apply.json created. Exchanges about what the server core does (routing,
// resourceVersion, generation, lists) are listed by name with the reason and not replayed here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCorpus, type Exchange, type JsonObject as CorpusObject } from './support/conformance/corpus.ts';
import { compareExchange, normalize, type ReplayResult } from './support/conformance/replay.ts';
import { admitCustomResource } from './support/fake-kube-api/crd-schema.ts';
import { warningHeader } from './support/fake-kube-api/crd-messages.ts';
import { isObject, type Json, type JsonObject } from './support/fake-kube-api/json.ts';
import { jsonPatch, mergePatch } from './support/fake-kube-api/patch.ts';

/** Behaviour of the server core, not of admitCustomResource: not replayed here. */
const SERVER_CORE: Readonly<Record<string, string>> = {
  'externalippolicy-put-no-rv': 'a PUT without metadata.resourceVersion is refused (422) before any schema is looked at: resourceVersion handling is the core\'s',
  'externalippolicy-no-status-subresource': '/status of a CRD without the status subresource is a 404 from routing',
  'externalippolicy-unknown-field-strict':
    "the 422 embeds the stored object as the server holds it, managedFields included (the fake keeps none); the module's own PATCH strict-error shape is checked below without them",
  'list-vippools': 'a LIST (ordering, kind VIPPoolList) is the core\'s',
};

interface Target {
  readonly plural: string;
  readonly version: string;
  readonly name?: string;
  readonly status: boolean;
  readonly fieldValidation: 'Strict' | 'Warn' | 'Ignore';
}

function parsePath(path: string): Target {
  const url = new URL(path, 'http://x');
  const parts = url.pathname.split('/').filter((p) => p !== '');
  // /apis/<group>/<version>/<plural>[/<name>[/status]]
  const [, , version, plural, name, sub] = parts;
  const fv = url.searchParams.get('fieldValidation') ?? 'Warn';
  assert.ok(fv === 'Strict' || fv === 'Warn' || fv === 'Ignore', `fieldValidation ${fv}`);
  return { plural: plural!, version: version!, ...(name === undefined ? {} : { name }), status: sub === 'status', fieldValidation: fv };
}

/** The CRDs as `kubectl apply` created them, by plural. */
function crdsFromApply(): Map<string, JsonObject> {
  const crds = new Map<string, JsonObject>();
  for (const ex of loadCorpus('apply').exchanges) {
    const body = ex.request.body as Json | undefined;
    if (ex.request.method !== 'POST' || !isObject(body) || body['kind'] !== 'CustomResourceDefinition') continue;
    const spec = body['spec'];
    const names = isObject(spec) ? spec['names'] : undefined;
    if (isObject(names) && typeof names['plural'] === 'string') crds.set(names['plural'], body);
  }
  return crds;
}

const corpus = loadCorpus('crd-validation');
const crds = crdsFromApply();
/** Objects as they stand after the exchanges so far, by plural/name. */
const current = new Map<string, JsonObject>();

function replay(ex: Exchange): ReplayResult {
  const target = parsePath(ex.request.path);
  const crd = crds.get(target.plural);
  assert.ok(crd !== undefined, `no CRD for ${target.plural} in apply.json`);
  const body = ex.request.body as Json | undefined;
  const key = (name: string): string => `${target.plural}/${name}`;
  let object: JsonObject;
  let old: JsonObject | undefined;
  if (ex.request.method === 'POST') {
    assert.ok(isObject(body));
    object = body;
  } else {
    assert.ok(target.name !== undefined);
    old = current.get(key(target.name));
    assert.ok(old !== undefined, `${target.name} does not exist yet`);
    if (ex.request.method === 'PUT') {
      assert.ok(isObject(body));
      object = body;
    } else {
      const patched = ex.request.headers['content-type'] === 'application/json-patch+json' ? jsonPatch(old, body ?? null) : mergePatch(old, body ?? null);
      assert.ok(isObject(patched));
      object = patched;
    }
  }
  const verdict = admitCustomResource(crd, {
    operation: ex.request.method === 'POST' ? 'CREATE' : 'UPDATE',
    version: target.version,
    object,
    ...(old === undefined ? {} : { oldObject: old }),
    fieldValidation: target.fieldValidation,
    ...(target.status ? { subresource: 'status' as const } : {}),
    patch: ex.request.method === 'PATCH',
  });
  const headers = verdict.warnings.length === 0 ? {} : { warning: verdict.warnings.map(warningHeader) };
  if (verdict.error !== undefined) return { status: verdict.error.code, body: normalize(verdict.error.status), headers };
  const name = (verdict.object['metadata'] as JsonObject)['name'] as string;
  current.set(key(name), verdict.object);
  return { status: ex.request.method === 'POST' ? 201 : 200, body: verdict.object, headers };
}

let matched = 0;
for (const ex of corpus.exchanges) {
  const reason = SERVER_CORE[ex.name];
  if (reason !== undefined) {
    test(`${ex.name} (server core: ${reason})`, { skip: reason }, () => undefined);
    continue;
  }
  test(ex.name, () => {
    const result = replay(ex);
    // metadata.generation is set by the store, not by schema handling.
    const compare = (ex.compare ?? []).filter((p) => p !== 'body.metadata.generation');
    const diffs = compareExchange({ ...ex, compare }, result);
    assert.deepEqual(diffs, [], `${ex.name}: ${ex.description}`);
    matched++;
  });
}

test('the PATCH strict-decoding error: 422, field "patch", the patched object embedded, no kind or name', () => {
  const crd = crds.get('externalippolicies')!;
  const recorded = corpus.exchanges.find((e) => e.name === 'externalippolicy-unknown-field-strict')!;
  const object: JsonObject = {
    apiVersion: 'vipgate.io/v1alpha1',
    kind: 'ExternalIPPolicy',
    metadata: { name: 'vipgate' },
    spec: { pools: [{ name: 'default', cidrs: ['10.200.0.0/16'], namespaces: ['default'], owner: 'x' }] },
  };
  const verdict = admitCustomResource(crd, { operation: 'UPDATE', version: 'v1alpha1', object, oldObject: object, fieldValidation: 'Strict', patch: true });
  const want = recorded.response.body as CorpusObject;
  const got = verdict.error?.status;
  assert.equal(verdict.error?.code, recorded.response.status);
  assert.equal(got?.['reason'], want['reason']);
  const strip = (m: unknown): string => String(m).replace(/\\"metadata\\":\{.*?\\"name\\":\\"vipgate\\"[^}]*\}/, 'META');
  assert.equal(strip(got?.['message']), strip(want['message']));
});

test('every crd-validation exchange but the server core ones matches', () => {
  const expected = corpus.exchanges.length - Object.keys(SERVER_CORE).length;
  assert.equal(matched, expected, `${matched} of ${expected} matched`);
});
