/**
 * Bytes sent by a real BIRD 2.0.12 (Debian 12) to a neighbour, captured on 2026-11-26 with
 * `test/support/bgp-capture-bird.ts`: BIRD in one namespace (router id 10.10.12.1, AS 65001,
 * hold 9 s, static 10.99.0.0/24 and fd00:99::/64 exported, IPv6 next hop fd00:12::1), our
 * listener in another (AS 65002). In the order BIRD sent them.
 */
export const BIRD_CAPTURE = {
  open: 'ffffffffffffffffffffffffffffffff003b0104fde900090a0a0c011e021c01040001000101040002000102004002007841040000fde946004700',
  keepalive: 'ffffffffffffffffffffffffffffffff001304',
  updateIpv4: 'ffffffffffffffffffffffffffffffff002f02000000144001010040020602010000fde94003040a0a0c01180a6300',
  endOfRibIpv4: 'ffffffffffffffffffffffffffffffff00170200000000',
  updateIpv6:
    'ffffffffffffffffffffffffffffffff0056020000003f900e002e00020120fd000012000000000000000000000001fe80000000000000c88f91fffea77f2b0040fd000099000000004001010040020602010000fde9',
  endOfRibIpv6: 'ffffffffffffffffffffffffffffffff001d0200000006800f03000201',
} as const;

export function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/[^0-9a-f]/gi, ''), 'hex'));
}
