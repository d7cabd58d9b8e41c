// The standalone config file of the start-up benchmark: `count` services, each with its own
// external IP (10.201.x.y, one /32 route each) and one ready backend, announced over one BGP
// session. Shared by bench/startup.bench.ts and the config tests that need a large file.

export interface StartupConfigOptions {
  readonly count: number;
  readonly nodeName: string;
  readonly routerId: string;
  readonly localAsn: number;
  readonly peer: { readonly address: string; readonly asn: number };
  /** Services whose index is here are left out (the hot-reload step removes one). */
  readonly without?: ReadonlySet<number>;
  /** Text replacing the line of service `index`'s backend (a test puts a bad field there). */
  readonly backendLine?: { readonly index: number; readonly text: string };
}

/** The external IP of service `i` (0-based): 10.201.0.1, 10.201.0.2, … */
export function startupVip(i: number): string {
  return `10.201.${(i + 1) >> 8}.${(i + 1) & 255}`;
}

export function startupConfig(o: StartupConfigOptions): string {
  const head = `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
nodeName: ${o.nodeName}
dataplane:
  engine: nftables
  resyncSeconds: 3600
pools:
  - name: default
    addresses: [10.201.0.0/16]
    allowExternalIPs: true
    autoAssign: false
bgp:
  routerId: ${o.routerId}
  localASN: ${o.localAsn}
  gracefulRestartSeconds: 0
  peers:
    - { address: ${o.peer.address}, asn: ${o.peer.asn}, holdTime: 9, families: [ipv4] }
services:
`;
  const parts: string[] = [head];
  for (let i = 0; i < o.count; i++) {
    if (o.without?.has(i) === true) continue;
    const backend = o.backendLine?.index === i ? o.backendLine.text : `      - { address: 10.100.${(i >> 8) & 255}.${i & 255} }`;
    parts.push(`  - name: svc-${i}
    namespace: bench
    type: ClusterIP
    externalIPs: [${startupVip(i)}]
    ports: [{ name: http, port: 80, targetPort: 8080 }]
    backends:
${backend}
`);
  }
  return parts.join('');
}
