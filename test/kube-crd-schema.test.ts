// admitCustomResource on what crd-validation.json does not record but vipgate's CRDs may grow
// into: transition rules (oldSelf), reason, ratcheting of unchanged values, the main resource
// keeping its status. Expected answers follow apiextensions-apiserver v1.32's code paths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitCustomResource, type AdmitArgs } from './support/fake-kube-api/crd-schema.ts';
import type { JsonObject } from './support/fake-kube-api/json.ts';

const crd: JsonObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    names: { kind: 'Widget', plural: 'widgets' },
    scope: 'Cluster',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                properties: {
                  size: {
                    type: 'integer',
                    maximum: 10,
                    'x-kubernetes-validations': [{ rule: 'self >= oldSelf', message: 'may only grow', messageExpression: "'may only grow, from ' + string(oldSelf)" }],
                  },
                  owner: {
                    type: 'string',
                    maxLength: 20,
                    'x-kubernetes-validations': [{ rule: "self != 'root'", message: 'root may not own widgets', reason: 'FieldValueForbidden' }],
                  },
                  legacy: { type: 'string', maxLength: 20, 'x-kubernetes-validations': [{ rule: "self != 'old'" }] },
                  nested: { type: 'object', properties: { mode: { type: 'string', default: 'auto' } } },
                },
              },
              status: { type: 'object', properties: { ready: { type: 'boolean' } } },
            },
          },
        },
      },
    ],
  },
};

const widget = (spec: JsonObject, status?: JsonObject): JsonObject => ({
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: { name: 'w' },
  spec,
  ...(status === undefined ? {} : { status }),
});

function admit(args: Partial<AdmitArgs> & { object: JsonObject }): ReturnType<typeof admitCustomResource> {
  return admitCustomResource(crd, { operation: 'CREATE', version: 'v1', fieldValidation: 'Warn', patch: false, ...args });
}

const message = (v: ReturnType<typeof admitCustomResource>): unknown => v.error?.status['message'];

test('a transition rule is skipped on create and compares with oldSelf on update', () => {
  assert.equal(admit({ object: widget({ size: 5 }) }).error, undefined);
  const shrunk = admit({ operation: 'UPDATE', object: widget({ size: 3 }), oldObject: widget({ size: 5 }) });
  assert.equal(message(shrunk), 'Widget.example.com "w" is invalid: spec.size: Invalid value: "integer": may only grow, from 5');
});

test('reason FieldValueForbidden prints "Forbidden" and no value; no message means "failed rule: <rule>"', () => {
  const v = admit({ object: widget({ owner: 'root', legacy: 'old' }) });
  assert.equal(
    message(v),
    'Widget.example.com "w" is invalid: [spec.owner: Forbidden: root may not own widgets, spec.legacy: Invalid value: "string": failed rule: self != \'old\']',
  );
});

test('ratcheting: an unchanged invalid value only warns on update; a changed one is refused', () => {
  const old = widget({ legacy: 'old', size: 20 });
  const kept = admit({ operation: 'UPDATE', object: widget({ legacy: 'old', size: 20, owner: 'me' }), oldObject: old });
  assert.equal(kept.error, undefined);
  assert.deepEqual(kept.warnings, ['spec.legacy: Invalid value: "string": failed rule: self != \'old\'']);
  const grown = admit({ operation: 'UPDATE', object: widget({ legacy: 'old', size: 21 }), oldObject: old });
  assert.match(String(message(grown)), /spec\.size: Invalid value: 21: spec\.size in body should be less than or equal to 10/);
});

test('defaults fill nested objects; the main resource keeps the stored status, /status keeps the stored spec', () => {
  const created = admit({ object: widget({ nested: {} }, { ready: true }) });
  assert.deepEqual(created.object['spec'], { nested: { mode: 'auto' } });
  assert.equal(created.object['status'], undefined);
  const stored = widget({ size: 1 }, { ready: false });
  const update = admit({ operation: 'UPDATE', object: widget({ size: 2 }, { ready: true }), oldObject: stored });
  assert.deepEqual(update.object['status'], { ready: false });
  const status = admit({ operation: 'UPDATE', subresource: 'status', object: widget({ size: 9 }, { ready: true }), oldObject: stored });
  assert.deepEqual([status.object['spec'], status.object['status']], [{ size: 1 }, { ready: true }]);
});

test('unknown fields: every path is named, in the warning or in the strict error', () => {
  const object = widget({ size: 1, colour: 'red', nested: { speed: 1 } });
  assert.deepEqual(admit({ object }).warnings, ['unknown field "spec.colour"', 'unknown field "spec.nested.speed"']);
  assert.equal(
    admit({ object, fieldValidation: 'Strict' }).error?.status['message'],
    'Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.colour", unknown field "spec.nested.speed"',
  );
  assert.deepEqual(admit({ object, fieldValidation: 'Ignore' }).warnings, []);
});
