import { ENDPOINT_SLICE } from '../known-fields.ts';
import { builtin, type ResourceType } from '../resource-type.ts';

export const endpointSlice: ResourceType = builtin({
  group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true, hasGeneration: true, createOnUpdate: true,
  known: ENDPOINT_SLICE,
  // Go lists without omitempty: an EndpointSlice without endpoints or ports says null.
  prepare: (o) => {
    o['endpoints'] ??= null;
    o['ports'] ??= null;
  },
});
