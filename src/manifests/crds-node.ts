import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { crd } from './crd.ts';
import { cidr, int, interfaceAddress, labelSelector, obj, set, str } from './schema.ts';

/** The same fields and defaults as `vipInterface` and `dataplane` in the standalone file. */
const nodeConfigSpec = obj(
  'How the selected LB nodes hold and serve VIPs.',
  {
    vipInterface: obj('The link holding the gateway addresses and the routes for the VIP CIDRs; the agent creates and repairs it.', {
      name: str('A Linux interface name: 1–15 bytes, no "/", ":" or white space.', {
        default: 'vipgate0',
        minLength: 1,
        maxLength: 15,
        pattern: '^[^/:\\s]+$',
        'x-kubernetes-validations': [{ rule: "self != '.' && self != '..'", message: 'must not be "." or ".."' }],
      }),
      addresses: set('Gateway addresses with their subnet length (10.200.0.1/24); ones inside a pool are reserved there.', interfaceAddress('An address.'), 16),
      routes: set('CIDRs routed to the interface; default: the CIDRs of all pools.', cidr('A CIDR.'), 256),
    }),
    dataplane: obj('The packet path.', {
      engine: str('nftables, or xdp and userspace as those engines land.', { enum: ['nftables', 'xdp', 'userspace'], default: 'nftables' }),
      snat: str('masquerade: backends see the LB node; none: backends see the client and must route replies back through it.', {
        enum: ['masquerade', 'none'],
        default: 'masquerade',
      }),
      denySources: set("Clients never served, whatever a Service allows (typically the cluster's own nodes).", cidr('A CIDR.'), 256),
      resyncSeconds: int('How often kernel state is read back and drift repaired.', 1, 86400, { default: 30 }),
    }),
    nodeSelector: labelSelector('LB nodes this applies to; absent means every LB node. A node selected by two LBNodeConfigs gets neither, and the agent says so.'),
  },
  ['vipInterface'],
);

export function lbNodeConfigCrd(): ICustomResourceDefinition {
  return crd({
    kind: 'LBNodeConfig',
    description: 'VIP interface and dataplane settings for the LB nodes it selects.',
    spec: nodeConfigSpec,
    columns: [
      { name: 'Interface', type: 'string', jsonPath: '.spec.vipInterface.name' },
      { name: 'Addresses', type: 'string', jsonPath: '.spec.vipInterface.addresses' },
      { name: 'Engine', type: 'string', jsonPath: '.spec.dataplane.engine' },
    ],
  });
}
