import type { BgpRoutesView } from '../api/server.ts';
import type { DrainStatus } from '../api/status.ts';
import type { ServiceRow, ServicesView, StatusView } from '../api/views.ts';
import type { PeerStatus, SentRoute } from '../bgp/index.ts';

/** Lays out rows as aligned columns; a cell may hold several lines (one backend each). */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => row.map((cell) => cell.split('\n')));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => Math.max(...(row[i] ?? ['']).map((l) => l.length)))));
  const line = (parts: readonly string[]): string =>
    parts
      .map((p, i) => (i === parts.length - 1 ? p : p.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  const out = [line(header)];
  for (const row of cells) {
    const height = Math.max(...row.map((c) => c.length));
    for (let k = 0; k < height; k++) out.push(line(row.map((c) => c[k] ?? '')));
  }
  return `${out.join('\n')}\n`;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function backendsCell(row: ServiceRow): string {
  if (row.backends.length === 0) return '(none: new connections dropped)';
  return row.backends
    .map((b, i) => `${i + 1} => ${hostPort(b.address, b.port)}${b.state === 'terminating' ? ' (terminating)' : ''}${b.weight !== 1 ? ` w=${b.weight}` : ''}`)
    .join('\n');
}

/** `vipgate service list`: one row per frontend, Cilium-style backends, and counters. */
export function formatServiceList(view: ServicesView): string {
  const rows = view.services.map((r) => [
    String(r.id),
    `${hostPort(r.address, r.port)}/${r.protocol.toUpperCase()}`,
    r.service,
    r.type,
    backendsCell(r),
    r.packets,
    r.bytes,
  ]);
  let text = renderTable(['ID', 'FRONTEND', 'SERVICE', 'TYPE', 'BACKENDS', 'PACKETS', 'BYTES'], rows);
  if (view.problems.length > 0) {
    text += '\nNot served (fix the Service or the pools):\n';
    for (const p of view.problems) text += `  ${p.service}: ${p.code}: ${p.message}\n`;
  }
  // Older agents' views have no leftOut.
  const leftOut = (view as Partial<ServicesView>).leftOut ?? [];
  if (leftOut.length > 0) {
    text += '\nLeft out by the source (fix the object):\n';
    for (const p of leftOut) text += `  ${p.object}: ${p.message}\n`;
  }
  return text;
}

/** `vipgate routes`: the static route a client (or router) needs when BGP is not in use. */
export function formatRoutes(prefixes: readonly string[], via: readonly string[]): string {
  if (via.length === 0) return prefixes.map((p) => `ip route add ${p} via <this LB node's address>\n`).join('');
  const lines: string[] = [];
  for (const p of prefixes) {
    const v6 = p.includes(':');
    const hop = via.find((a) => a.includes(':') === v6);
    if (hop !== undefined) lines.push(`ip ${v6 ? '-6 ' : ''}route add ${p} via ${hop}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}

function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** `vipgate bgp peers`: one row per router. */
export function formatBgpPeers(peers: readonly PeerStatus[], drain?: DrainStatus): string {
  // Every route to every peer depends on it: said under the table.
  const drainLine = drain === undefined ? '' : `\ndrain: ${formatDrain(drain)}\n`;
  if (peers.length === 0) return `no BGP peers configured\n${drainLine}`;
  return renderTable(
    ['PEER', 'ASN', 'STATE', 'UPTIME', 'BFD', 'FLAPS', 'SENT', 'RECEIVED', 'LAST ERROR'],
    peers.map((p) => [
      p.address,
      String(p.asn),
      p.state,
      duration(p.uptimeSeconds),
      // "-": BFD is not configured for the peer (a "Down" means configured and not Up).
      p.bfdState ?? '-',
      String(p.flaps),
      String(p.prefixesSent),
      String(p.prefixesReceived),
      p.lastError ?? '',
    ]),
  ) + drainLine;
}

/** `drained since 2026-12-06T05:01:02.000Z (vipgate drain)`; `draining … until …`. */
export function formatDrain(drain: DrainStatus): string {
  const by = drain.requestedBy.length === 0 ? '' : ` (${drain.requestedBy.join(', ')})`;
  const until = drain.deadline === undefined ? '' : `, withdrawing by ${drain.deadline} at the latest`;
  return `${drain.state} since ${drain.since}${by}${until}`;
}

/** `vipgate bgp routes`: what each router has been told. */
/** `10.200.0.0/24 via 10.0.0.2 local-pref 200 med 10 communities 65000:100 large 65000:1:2`. */
function sentRouteLine(r: SentRoute): string {
  const parts = [r.prefix];
  if (r.nextHops.length > 0) parts.push(`via ${r.nextHops.join(', ')}`);
  if (r.localPref !== undefined) parts.push(`local-pref ${r.localPref}`);
  if (r.med !== undefined) parts.push(`med ${r.med}`);
  if (r.communities.length > 0) parts.push(`communities ${r.communities.join(' ')}`);
  if (r.largeCommunities.length > 0) parts.push(`large ${r.largeCommunities.join(' ')}`);
  return parts.join(' ');
}

export function formatBgpRoutes(view: BgpRoutesView): string {
  return view.peers
    .map((p) => `${p.address} (${p.state}): ${p.routes.length} prefixes\n${p.routes.map((r) => `  ${sentRouteLine(r)}\n`).join('')}`)
    .join('');
}

/** `vipgate status`: what the agent serves, its last pass, and everything it could not do. */
export function formatStatus(view: StatusView): string {
  const lines = [
    `engine:        ${view.engine}`,
    `announcer:     ${view.announcer}`,
    `frontends:     ${view.frontends} served, ${view.advertisements.length} VIPs advertised`,
    `VIP interface: ${view.vipInterface === null ? '(none)' : `${view.vipInterface.name} (${view.vipInterface.kind})`}`,
  ];
  const pass = view.lastPass;
  if (pass === null) lines.push('last pass:     (none yet)');
  else {
    const p = pass.phases;
    lines.push(
      `last pass:     ${pass.ok ? 'ok' : 'FAILED'} at ${pass.at}, ${pass.durationMs.toFixed(1)} ms ` +
        `(desired ${p.desired.toFixed(1)}, host ${p.host.toFixed(1)}, dataplane ${p.dataplane.toFixed(1)}, announcer ${p.announcer.toFixed(1)})`,
    );
    for (const e of pass.errors) lines.push(`  error: ${e}`);
  }
  if (view.drain !== undefined) lines.push(`drain:         ${formatDrain(view.drain)}`);
  if (view.configError !== null) lines.push('', 'Config refused (the last good one keeps serving):', `  ${view.configError}`);
  if (view.problems.length > 0) {
    lines.push('', 'Not served (fix the Service or the pools):');
    for (const p of view.problems) lines.push(`  ${p.service}: ${p.code}: ${p.message}`);
  }
  // Older agents' views have no leftOut.
  const leftOut = (view as Partial<StatusView>).leftOut ?? [];
  if (leftOut.length > 0) {
    lines.push('', 'Left out by the source (fix the object):');
    for (const p of leftOut) lines.push(`  ${p.object}: ${p.message}`);
  }
  return `${lines.join('\n')}\n`;
}
