/**
 * Small builders for CRD OpenAPI v3 schemas. Every node gets a `type` (apiextensions v1 wants
 * structural schemas) and every string or list under a CEL rule gets a bound, because the API
 * server refuses a CRD whose rules' estimated cost is unbounded.
 */
import type { IJSONSchemaProps } from 'kubernetes-models/apiextensions.k8s.io/v1/JSONSchemaProps';
import type { IValidationRule } from 'kubernetes-models/apiextensions.k8s.io/v1/ValidationRule';

export type Schema = IJSONSchemaProps;
export type Rule = IValidationRule;

export function str(description: string, extra: Schema = {}): Schema {
  return { type: 'string', description, ...extra };
}

export function int(description: string, minimum: number, maximum: number, extra: Schema = {}): Schema {
  return { type: 'integer', description, minimum, maximum, ...extra };
}

export function bool(description: string, defaultValue?: boolean): Schema {
  return { type: 'boolean', description, ...(defaultValue === undefined ? {} : { default: defaultValue }) };
}

export function obj(description: string, properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema {
  return { type: 'object', description, properties, ...(required.length > 0 ? { required } : {}), ...extra };
}

/** A list of unique scalars (`x-kubernetes-list-type: set`): server-side apply merges by value. */
export function set(description: string, items: Schema, maxItems: number, extra: Schema = {}): Schema {
  return { type: 'array', description, items, maxItems, 'x-kubernetes-list-type': 'set', ...extra };
}

export function list(description: string, items: Schema, maxItems: number, extra: Schema = {}): Schema {
  return { type: 'array', description, items, maxItems, 'x-kubernetes-list-type': 'atomic', ...extra };
}

/** A CEL string literal (single-quoted). */
export function celString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

// The API server prints a failed rule as `spec.address: Invalid value: "string": <message>`:
// the schema's type, never the value. So each rule's messageExpression names the value itself
// (cheap: one concatenation, the value's length is bounded by the schema).

/** A rule on a string: the error ends with the offending string. */
export function stringRule(rule: string, message: string): Rule {
  return { rule, message, messageExpression: `${celString(`${message}, got "`)} + self + '"'` };
}

/** A rule on an integer: the error ends with the offending number. */
export function intRule(rule: string, message: string): Rule {
  return { rule, message, messageExpression: `${celString(`${message}, got `)} + string(self)` };
}

/** A rule on a list of strings: the error ends with the list. */
export function stringListRule(rule: string, message: string): Rule {
  return { rule, message, messageExpression: `${celString(`${message}, got `)} + self.join(', ')` };
}

// CEL, with the Kubernetes IP/CIDR libraries (Kubernetes ≥ 1.31). isCIDR() accepts host bits,
// so the masked comparison refuses "10.0.0.5/24" the way the standalone file does.
const celCidr = 'isCIDR(self) && cidr(self) == cidr(self).masked()';

/** An IP address, checked by CEL's `isIP` (canonical or not; no zones, no IPv4-mapped IPv6). */
export function ip(description: string): Schema {
  return str(description, { maxLength: 45, 'x-kubernetes-validations': [stringRule('isIP(self)', 'must be an IPv4 or IPv6 address')] });
}

/** A CIDR with the host bits zero. */
export function cidr(description: string): Schema {
  return str(description, {
    maxLength: 49,
    'x-kubernetes-validations': [stringRule(celCidr, 'must be a CIDR with the host bits zero, such as 10.200.0.0/16 or fd00:200::/64')],
  });
}

/** An address with its subnet length, host bits allowed (an interface address). */
export function interfaceAddress(description: string): Schema {
  return str(description, {
    maxLength: 49,
    'x-kubernetes-validations': [stringRule('isCIDR(self)', 'must be an address with its subnet length, such as 10.200.0.1/24')],
  });
}

/**
 * A pool entry: a CIDR, one address, or an inclusive range "first-last" of one family. That
 * first ≤ last can't be said in CEL (IPs have no order there); the controller reports it.
 */
export function poolRange(description: string): Schema {
  const ends = "self.split('-')";
  return str(description, {
    maxLength: 91,
    'x-kubernetes-validations': [
      stringRule(
        `self.contains('-') ? (size(${ends}) == 2 && isIP(${ends}[0]) && isIP(${ends}[1]) && ` +
          `ip(${ends}[0]).family() == ip(${ends}[1]).family()) : (isIP(self) || (${celCidr}))`,
        'must be a CIDR with the host bits zero (10.200.0.0/16), an address, or an inclusive range of one family (10.200.1.10-10.200.1.20)',
      ),
    ],
  });
}

/** A Linux interface name, as the kernel's dev_valid_name() admits it. */
export function ifname(description: string): Schema {
  return str(`${description} 1–15 bytes, no "/", ":" or white space.`, {
    minLength: 1,
    maxLength: 15,
    pattern: '^[^/:\\s]+$',
    'x-kubernetes-validations': [stringRule("self != '.' && self != '..'", 'must not be "." or ".."')],
  });
}

/** A DNS label (a namespace, a pool or peer name). */
export function dnsLabel(description: string): Schema {
  return str(description, { maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });
}

/**
 * metav1.LabelSelector, written out (a CRD can't $ref it). The CEL rule is the API server's own
 * check for pod selectors: In/NotIn need values, Exists/DoesNotExist take none.
 */
export function labelSelector(description: string): Schema {
  return obj(
    description,
    {
      matchLabels: {
        type: 'object',
        description: 'Labels that must all be present with these values.',
        additionalProperties: { type: 'string', maxLength: 63 },
        maxProperties: 64,
      },
      matchExpressions: list(
        'Requirements that must all hold.',
        obj(
          'One requirement on a label.',
          {
            key: str('The label key.', { maxLength: 317 }),
            operator: str('How the values are compared.', { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }),
            values: list('Values for In and NotIn.', { type: 'string', maxLength: 63 }, 256),
          },
          ['key', 'operator'],
          {
            'x-kubernetes-validations': [
              {
                rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
                message: 'In and NotIn need values; Exists and DoesNotExist take none',
                // The error names the values field (present or missing) rather than the whole requirement.
                fieldPath: '.values',
                messageExpression:
                  "self.operator in ['In', 'NotIn'] ? 'operator ' + self.operator + ' (key \"' + self.key + '\") needs values' : " +
                  "'operator ' + self.operator + ' (key \"' + self.key + '\") takes no values, got ' + self.values.join(', ')",
              },
            ],
          },
        ),
        64,
      ),
    },
    [],
    { 'x-kubernetes-map-type': 'atomic' },
  );
}

/** metav1.Condition, as `kubectl wait --for=condition=…` expects it. */
export function conditions(): Schema {
  return {
    type: 'array',
    description: 'The latest observations of the object (Ready, Conflict, …).',
    maxItems: 16,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    items: obj(
      'One condition.',
      {
        type: str('The condition, in CamelCase.', { maxLength: 316 }),
        status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
        observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The generation the condition was set for.' },
        lastTransitionTime: str('When the status last changed.', { format: 'date-time' }),
        reason: str('Why, in CamelCase.', { maxLength: 1024, minLength: 1 }),
        message: str('Why, for a person.', { maxLength: 32768 }),
      },
      ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
    ),
  };
}
