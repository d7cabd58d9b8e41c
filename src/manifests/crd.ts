import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import type { ICustomResourceColumnDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceColumnDefinition';
import { API_GROUP, API_VERSION, commonLabels, type KindName, Kinds } from '../kube-model/names.ts';
import type { Rule, Schema } from './schema.ts';

export type Column = ICustomResourceColumnDefinition;

export interface CrdParts {
  readonly kind: KindName;
  readonly description: string;
  readonly spec: Schema;
  /** Written only by the controller, through the status subresource. */
  readonly status?: Schema;
  readonly columns: readonly Column[];
  /** Rules on the whole object (they may read metadata.name). */
  readonly rules?: readonly Rule[];
}

const ageColumn: Column = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** A cluster-scoped CRD in vipgate.io/v1alpha1 with a structural schema and a status subresource. */
export function crd(parts: CrdParts): ICustomResourceDefinition {
  const names = Kinds[parts.kind];
  const properties: Record<string, Schema> = {
    apiVersion: { type: 'string', description: 'The versioned schema of this object.' },
    kind: { type: 'string', description: 'The REST resource this object represents.' },
    // A root rule's fieldPath must name a field of the schema, so a rule on the name needs the
    // name declared (the only metadata fields a CRD may declare are name and generateName).
    metadata: parts.rules === undefined ? { type: 'object' } : { type: 'object', properties: { name: { type: 'string', maxLength: 253 } } },
    spec: parts.spec,
    ...(parts.status === undefined ? {} : { status: parts.status }),
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${API_GROUP}`, labels: commonLabels('crds') },
    spec: {
      group: API_GROUP,
      // Pools, peers and node configs describe the cluster's edge, not a tenant's app: cluster-scoped.
      scope: 'Cluster',
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        ...(names.shortNames.length > 0 ? { shortNames: [...names.shortNames] } : {}),
        categories: ['vipgate'],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: parts.description,
              properties,
              required: ['spec'],
              ...(parts.rules === undefined ? {} : { 'x-kubernetes-validations': [...parts.rules] }),
            },
          },
          ...(parts.status === undefined ? {} : { subresources: { status: {} } }),
          additionalPrinterColumns: [...parts.columns, ageColumn],
        },
      ],
    },
  };
}
