import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { crd } from './crd.ts';
import { bool, cidr, ifname, int, interfaceAddress, ip, labelSelector, obj, set, str, stringListRule } from './schema.ts';

/** The same fields and defaults as `vipInterface` and `dataplane` in the standalone file. */
const nodeConfigSpec = obj(
  'How the selected LB nodes hold and serve VIPs.',
  {
    vipInterface: obj('The link holding the gateway addresses and the routes for the VIP CIDRs; the agent creates and repairs it.', {
      name: { ...ifname('The interface name.'), default: 'vipgate0' },
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
      xdp: obj(
        'Settings of the XDP engine; required when engine is xdp.',
        {
          interfaces: set('Interfaces to attach to: the client-facing ones and, in nat mode, those replies from backends arrive on.', ifname('An interface.'), 16, { minItems: 1 }),
          mode: str('auto (native where the driver has it, else generic), native or generic.', { enum: ['auto', 'native', 'generic'], default: 'auto' }),
          forwarding: str('nat (DNAT to the backend, SNAT to the LB node), dsr-l2 (backends on the same L2 segment hold the VIP and reply directly), ipip (the client packet inside IP-in-IP to the backend, which holds the VIP) or gue (the same inside UDP, GUE variant 1).', {
            enum: ['nat', 'dsr-l2', 'ipip', 'gue'],
            default: 'nat',
          }),
          mtu: int('ipip/gue: the MTU toward the backends; a packet too big once encapsulated gets ICMP fragmentation needed / packet too big.', 1328, 65535, { default: 1500 }),
          guePort: int('gue: the UDP port the backends decapsulate on.', 1, 65535, { default: 6080 }),
          pinDir: str('A directory on a bpf filesystem; pinned maps keep the connection table across agent restarts.', {
            pattern: '^/',
            maxLength: 256,
            default: '/sys/fs/bpf/vipgate',
          }),
          snatAddresses: set("This node's address toward the backends, at most one per family: the source of masqueraded flows and, in ipip/gue, of the outer header.", ip('An address.'), 2, {
            // An entry that isn't an address is its own error, not an evaluation error here.
            'x-kubernetes-validations': [
              stringListRule('size(self) < 2 || !isIP(self[0]) || !isIP(self[1]) || ip(self[0]).family() != ip(self[1]).family()', 'at most one address per family'),
            ],
          }),
        },
        ['interfaces'],
      ),
    }, [], {
      'x-kubernetes-validations': [
        {
          rule: "!has(self.engine) || self.engine != 'xdp' || has(self.xdp)",
          message: 'engine xdp needs the xdp settings (at least xdp.interfaces)',
          messageExpression: "'engine ' + self.engine + ' needs the xdp settings (at least xdp.interfaces)'",
          fieldPath: '.xdp',
          // What is wrong is that xdp is missing: "Required value", not `Invalid value: "object"`.
          reason: 'FieldValueRequired',
        },
      ],
    }),
    backends: str(
      "pods: the EndpointSlices' pod addresses (the LB node routes to pod IPs). nodePort: each Ready, schedulable non-LB node's InternalIP at the Service port's nodePort, for LB nodes that can't reach pod IPs; with externalTrafficPolicy Local only the nodes with an endpoint of the Service.",
      { enum: ['pods', 'nodePort'], default: 'pods' },
    ),
    drain: bool(
      'true: the selected LB nodes drain (as `vipgate drain`, and as cordoning their Node does): routes re-announced with GRACEFUL_SHUTDOWN (65535:0) and a lower preference, withdrawn once no packet reaches a VIP there. false or absent: served normally.',
    ),
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
      { name: 'Backends', type: 'string', jsonPath: '.spec.backends' },
    ],
  });
}
