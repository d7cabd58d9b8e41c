import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { crd } from './crd.ts';
import { bool, dnsLabel, int, intRule, ip, labelSelector, obj, set, str, stringRule, type Schema } from './schema.ts';

// 4-octet AS numbers (RFC 6793); 0 is reserved (RFC 7607).
const asn = (description: string): Schema => int(description, 1, 4294967295, { format: 'int64' });

/**
 * Field names follow the BGP speaker's PeerConfig (src/bgp/speaker.ts) so the agent copies
 * them across; a peer is a router the selected LB nodes open a session with.
 */
const peerSpec = obj(
  'A BGP router the selected LB nodes peer with.',
  {
    address: ip("The router's address."),
    asn: asn("The router's AS number."),
    localASN: asn('Our AS number on this session (equal to asn for iBGP).'),
    port: int('TCP port of the router.', 1, 65535, { default: 179 }),
    localAddress: ip('Our source address for the session; default: chosen by the route to the router.'),
    routerID: str('Our BGP identifier (RFC 4271 §4.2), an IPv4 address; default: the node\'s IPv4 address.', {
      maxLength: 15,
      'x-kubernetes-validations': [stringRule('isIP(self) && ip(self).family() == 4', 'must be an IPv4 address')],
    }),
    holdTimeSeconds: int('Proposed hold time.', 0, 65535, {
      default: 90,
      // RFC 4271 §4.2: "the Hold Time MUST be either zero or at least three seconds".
      'x-kubernetes-validations': [intRule('self == 0 || self >= 3', 'must be 0 (no keepalives) or at least 3 seconds (RFC 4271 §4.2)')],
    }),
    passive: bool('Only wait for the router to connect.', false),
    families: set('Address families to offer; default both.', str('A family.', { enum: ['ipv4', 'ipv6'] }), 2),
    gracefulRestartSeconds: int('RFC 4724 restart time: how long the router keeps our routes while the agent restarts.', 0, 4095),
    passwordSecretRef: obj(
      'TCP MD5 password (RFC 2385), from a Secret in the vipgate namespace.',
      { name: dnsLabel('The Secret.'), key: str('The key in the Secret.', { maxLength: 253, default: 'password' }) },
      ['name'],
    ),
    bfd: obj('Bidirectional Forwarding Detection (RFC 5880) on the session, for sub-second failover.', {
      enabled: bool('Run BFD with this router.', false),
      receiveIntervalMs: int('Slowest rate we want to receive at.', 10, 60000, { default: 300 }),
      transmitIntervalMs: int('Fastest rate we send at.', 10, 60000, { default: 300 }),
      detectMultiplier: int('Missed packets before the session is declared down.', 2, 255, { default: 3 }),
    }),
    multihop: int('eBGP only: the IP TTL of our packets, for routers more than one hop away (without it: TTL 1). Not with BFD, which is single-hop.', 2, 255),
    nextHop: obj('Next hops for our routes, per family; default: our address on the session. Needed for IPv6 VIPs over an IPv4 session.', {
      ipv4: ip('IPv4 next hop.'),
      ipv6: ip('IPv6 next hop.'),
    }),
    nodeSelector: labelSelector('LB nodes that peer with this router; absent means every LB node.'),
  },
  ['address', 'asn', 'localASN'],
  {
    'x-kubernetes-validations': [
      {
        rule: '!has(self.multihop) || self.asn != self.localASN',
        message: 'multihop applies to eBGP peers only; an iBGP peer (asn equal to localASN) is reached over any number of hops',
        messageExpression:
          "'multihop ' + string(self.multihop) + ' applies to eBGP peers only; this peer is iBGP (asn and localASN both ' + string(self.asn) + ') and is reached over any number of hops'",
        fieldPath: '.multihop',
      },
      {
        // RFC 5881 single-hop BFD needs the router one hop away (TTL 255 on arrival).
        rule: '!has(self.multihop) || !has(self.bfd) || !self.bfd.enabled',
        message: 'multihop cannot be combined with bfd: vipgate runs single-hop BFD only',
        messageExpression: "'multihop ' + string(self.multihop) + ' cannot be combined with bfd.enabled: vipgate runs single-hop BFD only'",
        fieldPath: '.multihop',
      },
      {
        // Addresses that don't parse are their own fields' errors, not an evaluation error here.
        rule: '!has(self.localAddress) || !isIP(self.localAddress) || !isIP(self.address) || ip(self.localAddress).family() == ip(self.address).family()',
        message: 'localAddress must be of the same family as address',
        messageExpression: "'localAddress ' + self.localAddress + ' must be of the same family as address ' + self.address",
        fieldPath: '.localAddress',
      },
    ],
  },
);

export function bgpPeerCrd(): ICustomResourceDefinition {
  return crd({
    kind: 'BGPPeer',
    description: 'A BGP router that LB nodes announce VIPs to.',
    spec: peerSpec,
    columns: [
      { name: 'Address', type: 'string', jsonPath: '.spec.address' },
      { name: 'ASN', type: 'integer', jsonPath: '.spec.asn' },
      { name: 'Local-ASN', type: 'integer', jsonPath: '.spec.localASN' },
      { name: 'Passive', type: 'boolean', jsonPath: '.spec.passive', priority: 1 },
    ],
  });
}

// "asn:value" (RFC 1997) and "global:local1:local2" (RFC 8092), as the speaker parses them.
// A string the pattern refuses is the pattern's error: the rule skips it, as int() of it would
// be an evaluation error that names neither the value nor the problem.
const communityPattern = '^[0-9]{1,5}:[0-9]{1,5}$';
const community = str('A community, "asn:value", each 0–65535.', {
  maxLength: 11,
  pattern: communityPattern,
  'x-kubernetes-validations': [stringRule(`!self.matches('${communityPattern}') || self.split(':').all(p, int(p) <= 65535)`, 'each part must be 0–65535')],
});
const largeCommunityPattern = '^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$';
const largeCommunity = str('A large community, "global:local1:local2", each 0–4294967295.', {
  maxLength: 32,
  pattern: largeCommunityPattern,
  'x-kubernetes-validations': [stringRule(`!self.matches('${largeCommunityPattern}') || self.split(':').all(p, int(p) <= 4294967295)`, 'each part must be 0–4294967295')],
});

const advertisementSpec = obj('Which VIPs are announced, to whom, with which attributes.', {
  pools: set('VIPPools whose assigned addresses are announced; empty or absent means all.', dnsLabel('A VIPPool.'), 256),
  peers: set('BGPPeers to announce to; empty or absent means all.', dnsLabel('A BGPPeer.'), 256),
  aggregationLength: int('IPv4 prefix length announced: 32 announces each VIP, shorter announces the covering prefix.', 0, 32, { default: 32 }),
  aggregationLengthV6: int('IPv6 prefix length announced.', 0, 128, { default: 128 }),
  aggregateToVipRoutes: bool("Announce the LB node's VIP interface route covering each VIP (the pools' CIDRs) instead of a prefix of aggregationLength.", false),
  communities: set('RFC 1997 communities attached.', community, 64),
  largeCommunities: set('RFC 8092 large communities attached.', largeCommunity, 64),
  localPref: int('LOCAL_PREF, sent to iBGP peers only (RFC 4271 §5.1.5); the highest wins when advertisements overlap.', 0, 4294967295, { format: 'int64' }),
  med: int('MULTI_EXIT_DISC; the lowest wins when advertisements overlap.', 0, 4294967295, { format: 'int64' }),
  nodeSelector: labelSelector('LB nodes that announce; absent means every LB node.'),
});

export function bgpAdvertisementCrd(): ICustomResourceDefinition {
  return crd({
    kind: 'BGPAdvertisement',
    description: 'How the VIPs of some pools are announced by BGP.',
    spec: advertisementSpec,
    columns: [
      { name: 'Pools', type: 'string', jsonPath: '.spec.pools' },
      { name: 'Peers', type: 'string', jsonPath: '.spec.peers' },
      { name: 'Aggregation', type: 'integer', jsonPath: '.spec.aggregationLength', priority: 1 },
    ],
  });
}
