/**
 * Test support: a CEL environment with the parts of the Kubernetes CEL libraries our rules use
 * (IP and CIDR: isIP, ip, family, isCIDR, cidr, containsIP, masked; split and join are built in), built on
 * src/net. It lets tests evaluate the exact expressions that ship, so a typo or a wrong
 * condition fails here instead of at `kubectl apply`. Semantics follow k8s.io/apiserver's
 * library/ip.go and cidr.go: no zones, no IPv4-mapped IPv6, isCIDR accepts host bits.
 */
import { Environment, type EnvironmentOptions } from '@marcbachmann/cel-js';
import { cidrContains, parseCidr, tryParseIp, type Cidr, type IpAddress } from '../net/index.ts';

export class CelIp {
  constructor(readonly address: IpAddress) {}
}

export class CelCidr {
  constructor(
    readonly cidr: Cidr,
    /** The address as written, host bits and all: masked() differs from it when they are set. */
    readonly address: IpAddress,
  ) {}
}

function k8sIp(text: string): IpAddress | undefined {
  // k8s refuses IPv4-mapped IPv6 ("::ffff:1.2.3.4") and zones; src/net refuses zones itself.
  if (/^::ffff:[0-9.]+$/i.test(text)) return undefined;
  return tryParseIp(text);
}

function k8sCidr(text: string): CelCidr | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? undefined : k8sIp(text.slice(0, slash));
  if (address === undefined) return undefined;
  try {
    return new CelCidr(parseCidr(text, { allowHostBits: true }), address);
  } catch {
    return undefined;
  }
}

function mustIp(text: string): CelIp {
  const a = k8sIp(text);
  if (a === undefined) throw new Error(`IP Address "${text}" parse error`);
  return new CelIp(a);
}

function mustCidr(text: string): CelCidr {
  const c = k8sCidr(text);
  if (c === undefined) throw new Error(`network address "${text}" parse error`);
  return c;
}

/**
 * A fresh environment; variables are dynamic, integers come back as BigInt. `options` override
 * the defaults (the fake API server's admission wants declared variables and Kubernetes'
 * homogeneous aggregate literals).
 */
export function kubernetesCel(options: EnvironmentOptions = {}): Environment {
  return new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false, ...options })
    .registerType('net.IP', CelIp)
    .registerType('net.CIDR', CelCidr)
    .registerFunction('isIP(string): bool', (s: string) => k8sIp(s) !== undefined)
    .registerFunction('ip(string): net.IP', mustIp)
    .registerFunction({ name: 'family', receiverType: 'net.IP', returnType: 'int', handler: (ip: CelIp) => BigInt(ip.address.family), params: [] })
    .registerFunction('isCIDR(string): bool', (s: string) => k8sCidr(s) !== undefined)
    .registerFunction('cidr(string): net.CIDR', mustCidr)
    .registerFunction({
      name: 'containsIP',
      receiverType: 'net.CIDR',
      returnType: 'bool',
      handler: (c: CelCidr, ip: string) => {
        const a = k8sIp(ip);
        if (a === undefined) throw new Error(`IP Address "${ip}" parse error`);
        return cidrContains(c.cidr, a);
      },
      params: [{ name: 'ip', type: 'string' }],
    })
    .registerFunction({
      name: 'masked',
      receiverType: 'net.CIDR',
      returnType: 'net.CIDR',
      handler: (c: CelCidr) => new CelCidr(c.cidr, { family: c.cidr.family, value: c.cidr.network }),
      params: [],
    })
    // Equal when address (host bits included) and length are: "10.0.0.5/24" != "10.0.0.0/24".
    .registerOperator('net.CIDR == net.CIDR', (a: CelCidr, b: CelCidr) => a.address.value === b.address.value && a.cidr.prefixLength === b.cidr.prefixLength);
}
