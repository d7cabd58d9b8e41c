// Events: stored once, served as core/v1 and as events.k8s.io/v1 with the recorded field
// conversion. Go's JSON shape shows through: struct fields without omitempty are always there
// (`source: {}`, `eventTime: null`, `reportingInstance: ""`).
import { field, type Cause } from '../errors.ts';
import { isObject, type Json, type JsonObject } from '../json.ts';
import { EVENT, EVENT_V1 } from '../known-fields.ts';
import { builtin, type ResourceType } from '../resource-type.ts';
import { int32, obj, time } from './decode.ts';

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SUBDOMAIN_HELP =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** Keys in the order Go writes core/v1 Event fields, so answers read like a real server's. */
function coreShape(e: JsonObject): JsonObject {
  const out: JsonObject = { metadata: e['metadata'] ?? {}, involvedObject: e['involvedObject'] ?? {} };
  const put = (k: string, v: Json | undefined, omitEmpty: boolean): void => {
    if (omitEmpty && (v === undefined || v === null || v === '' || v === 0)) return;
    out[k] = v ?? null;
  };
  put('reason', e['reason'], true);
  put('message', e['message'], true);
  out['source'] = obj(e['source']) ?? {};
  out['firstTimestamp'] = e['firstTimestamp'] ?? null;
  out['lastTimestamp'] = e['lastTimestamp'] ?? null;
  put('count', e['count'], true);
  put('type', e['type'], true);
  out['eventTime'] = e['eventTime'] ?? null;
  put('series', e['series'], true);
  put('action', e['action'], true);
  put('related', e['related'], true);
  out['reportingComponent'] = e['reportingComponent'] ?? '';
  out['reportingInstance'] = e['reportingInstance'] ?? '';
  return out;
}

function decodeCore(o: JsonObject): void {
  time(event, o, 'firstTimestamp');
  time(event, o, 'lastTimestamp');
  time(event, o, 'eventTime', true);
  int32(event, o['count'], 'Event.count');
  time(event, obj(o['series']), 'lastObservedTime', true);
}

function validateCore(o: JsonObject): Cause[] {
  // ValidateEventCreate for v1 clients barely checks anything: only that the involved object
  // is in the event's namespace when it names one.
  const causes: Cause[] = [];
  const ns = obj(o['metadata'])?.['namespace'];
  const involvedNs = obj(o['involvedObject'])?.['namespace'];
  if (typeof involvedNs === 'string' && involvedNs !== '' && involvedNs !== ns) causes.push(field.invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
  return causes;
}

export const event: ResourceType = builtin({
  group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, createOnUpdate: true, storage: '/events',
  known: EVENT,
  decode: decodeCore,
  toStored: coreShape,
  fromStored: coreShape,
  validate: validateCore,
});

/** events.k8s.io/v1 → stored (core) form. */
function fromV1(e: JsonObject): JsonObject {
  return coreShape({
    metadata: e['metadata'] ?? {},
    involvedObject: e['regarding'] ?? {},
    reason: e['reason'] ?? null, message: e['note'] ?? null, source: e['deprecatedSource'] ?? {},
    firstTimestamp: e['deprecatedFirstTimestamp'] ?? null, lastTimestamp: e['deprecatedLastTimestamp'] ?? null, count: e['deprecatedCount'] ?? null,
    type: e['type'] ?? null, eventTime: e['eventTime'] ?? null, series: convertSeries(e['series'], 'toCore'), action: e['action'] ?? null, related: e['related'] ?? null,
    reportingComponent: e['reportingController'] ?? '', reportingInstance: e['reportingInstance'] ?? '',
  });
}

/** Stored (core) form → events.k8s.io/v1, keys in Go's order. */
function toV1(e: JsonObject): JsonObject {
  const out: JsonObject = { metadata: e['metadata'] ?? {}, eventTime: e['eventTime'] ?? null };
  const put = (k: string, v: Json | undefined): void => {
    if (v !== undefined && v !== null && v !== '' && v !== 0) out[k] = v;
  };
  put('series', convertSeries(e['series'], 'toV1'));
  put('reportingController', e['reportingComponent']);
  put('reportingInstance', e['reportingInstance']);
  put('action', e['action']);
  put('reason', e['reason']);
  out['regarding'] = e['involvedObject'] ?? {};
  put('related', e['related']);
  put('note', e['message']);
  put('type', e['type']);
  out['deprecatedSource'] = obj(e['source']) ?? {};
  out['deprecatedFirstTimestamp'] = e['firstTimestamp'] ?? null;
  out['deprecatedLastTimestamp'] = e['lastTimestamp'] ?? null;
  put('deprecatedCount', e['count']);
  return out;
}

function convertSeries(s: Json | undefined, _to: 'toCore' | 'toV1'): Json {
  // Both series have count and lastObservedTime; core's extra `state` is long gone.
  return isObject(s) ? { ...s } : null;
}

function validateV1(o: JsonObject): Cause[] {
  const causes: Cause[] = [];
  const m = obj(o['metadata']) ?? {};
  const generateName = m['generateName'];
  // The events.k8s.io strategy checks generateName as a DNS subdomain (core/v1's does not).
  if (typeof generateName === 'string' && !SUBDOMAIN.test(generateName)) causes.push(field.invalid('metadata.generateName', generateName, SUBDOMAIN_HELP));
  if (o['eventTime'] === undefined || o['eventTime'] === null) causes.push(field.required('eventTime'));
  const series = obj(o['series']);
  if (series !== undefined) {
    const count = series['count'];
    if (typeof count !== 'number' || count < 2) causes.push(field.invalid('series.count', count ?? '', 'should be at least 2'));
  }
  return causes;
}

export const eventV1: ResourceType = builtin({
  group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, createOnUpdate: true, storage: '/events',
  known: EVENT_V1,
  decode: (o) => {
    time(eventV1, o, 'eventTime', true);
    time(eventV1, o, 'deprecatedFirstTimestamp');
    time(eventV1, o, 'deprecatedLastTimestamp');
    time(eventV1, obj(o['series']), 'lastObservedTime', true);
    int32(eventV1, obj(o['series'])?.['count'], 'EventSeries.series.count');
  },
  // Validation runs on the versioned object here: the v1 checks name v1 fields.
  validate: validateV1,
  toStored: fromV1,
  fromStored: toV1,
});
