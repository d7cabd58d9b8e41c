import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { crd } from './crd.ts';
import { dnsLabel, ifname, int, labelSelector, obj, set } from './schema.ts';

/**
 * Field names and ranges follow the file's `l2:` section (src/config/types.ts, L2Config). The
 * timing fields have no schema defaults on purpose: an advertisement that leaves one out leaves
 * it to the others selecting the same node (src/sources/kubernetes-l2.ts), and only when none
 * sets it does the documented default apply.
 */
const advertisementSpec = obj(
  'Which VIPs the selected LB nodes answer ARP (IPv4) and neighbour solicitations (IPv6) for, on which interfaces.',
  {
    pools: set('VIPPools whose addresses are answered for; empty or absent means every VIP.', dnsLabel('A VIPPool.'), 256),
    interfaces: set(
      "Interfaces to answer on; a VIP is answered on those whose subnet holds it. The LB nodes' addresses on these subnets carry BFD between them.",
      ifname('An interface.'),
      16,
      { minItems: 1 },
    ),
    announce: obj('Gratuitous ARP / unsolicited neighbour advertisements sent when a node takes a VIP over.', {
      count: int('How many (default 3).', 1, 10),
      intervalMs: int('Milliseconds between the first and the second; each later gap doubles (default 250).', 10, 10000),
      periodicSeconds: int('Re-announce every owned VIP this often; 0 (the default): never.', 0, 3600),
    }),
    failbackHoldDownSeconds: int(
      'A node up for less than this only takes VIPs no settled node can serve, so a flapping node moves VIPs once, not twice (default 10; 0: VIPs move back at once).',
      0,
      3600,
    ),
    bfd: obj('BFD (RFC 5880, single hop, UDP 3784) between the selected LB nodes over the interfaces: how fast a dead owner is noticed.', {
      minTxMs: int('Fastest rate we send at (default 100).', 10, 60000),
      minRxMs: int('Fastest rate we accept (default 100).', 10, 60000),
      // RFC 5880 §6.8.1: bfd.DetectMult is nonzero; 1 declares a peer down after one lost packet.
      multiplier: int('Missed packets before a peer is declared down (default 3).', 1, 255),
    }),
    nodeSelector: labelSelector('LB nodes that answer; absent means every LB node. The other LB nodes it selects are their BFD peers.'),
  },
  ['interfaces'],
);

export function l2AdvertisementCrd(): ICustomResourceDefinition {
  return crd({
    kind: 'L2Advertisement',
    description: 'How the VIPs of some pools are answered for in L2 mode (ARP/NDP) on the LB nodes\' own segment.',
    spec: advertisementSpec,
    columns: [
      { name: 'Pools', type: 'string', jsonPath: '.spec.pools' },
      { name: 'Interfaces', type: 'string', jsonPath: '.spec.interfaces' },
      { name: 'Hold-Down', type: 'integer', jsonPath: '.spec.failbackHoldDownSeconds', priority: 1 },
    ],
  });
}
