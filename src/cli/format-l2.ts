// `vipgate l2 status`: which LB node answers for each L2 VIP, since when and why, and the BFD
// sessions to the other L2 LB nodes that decide it.
import type { L2StatusView } from '../api/status.ts';
import { renderTable } from './format.ts';

/** "2.3s ago" from an ISO time, against `now`. */
function ago(iso: string | null, now: number): string {
  if (iso === null) return '-';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  return s < 60 ? `${s.toFixed(1)}s ago` : s < 3600 ? `${Math.floor(s / 60)}m${Math.floor(s % 60)}s ago` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m ago`;
}

export function formatL2Status(view: L2StatusView, now = Date.now()): string {
  const head = `node ${view.node}: ${view.eligible ? 'answers for the VIPs it owns' : `answers for nothing (${view.why})`}\n`;
  const vips =
    view.vips.length === 0
      ? 'no L2 VIPs (none servable is in the subnet of an L2 interface)\n'
      : renderTable(
          ['VIP', 'INTERFACE', 'OWNER', 'HERE', 'SINCE', 'WHY'],
          view.vips.map((v) => [v.vip, v.interface, v.owner ?? '(none)', v.answering ? 'answering' : v.owner === view.node ? 'probing' : '-', ago(v.since, now), v.why]),
        );
  const peers =
    view.peers.length === 0
      ? 'no L2 peers: this node owns every VIP it can serve\n'
      : renderTable(
          ['PEER', 'ADDRESS', 'FROM', 'BFD', 'SINCE', 'LAST CHANGE'],
          view.peers.map((p) => [p.name, p.peerAddress, p.localAddress, p.state, ago(p.state === 'Up' ? p.upSince : p.changedAt, now), p.reason ?? '']),
        );
  const c = view.counters;
  const counters = `answers: ${c.answers.arp} ARP, ${c.answers.ndp} NDP; announcements: ${c.announcements}; ownership changes: ${c.ownershipChanges}; conflicts: ${c.conflicts}\n`;
  const failed = view.failed.map((f) => `cannot answer on ${f.interface}: ${f.message}\n`).join('');
  return `${head}\n${vips}\n${peers}\n${counters}${failed}`;
}
