// L2 mode's metrics (docs/design/017, "Observability"), read from the announcer at scrape time. No
// series while L2 mode is off; counters start again from 0 when the l2 section is added anew.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { L2Status } from './l2-announcer.ts';

export function registerL2Metrics(registry: Registry, status: () => L2Status | undefined): void {
  const counter = (name: string, help: string, value: (s: L2Status) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const s = status();
        if (s === undefined) this.remove(); // reset() leaves an unlabelled metric at 0: a series
        else this.inc(value(s));
      },
    });
  };
  new Counter({
    name: 'vipgate_l2_answers_total',
    help: 'ARP replies and neighbour advertisements sent for VIPs this node owns',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      this.reset();
      const s = status();
      if (s === undefined) return;
      this.inc({ protocol: 'arp' }, s.counters.answers.arp);
      this.inc({ protocol: 'ndp' }, s.counters.answers.ndp);
    },
  });
  counter('vipgate_l2_announcements_total', 'Gratuitous ARPs and unsolicited neighbour advertisements sent (takeovers, periodic)', (s) => s.counters.announcements);
  counter('vipgate_l2_ownership_changes_total', 'Times the owner of an L2 VIP changed, as this node sees it', (s) => s.counters.ownershipChanges);
  counter('vipgate_l2_conflicts_total', 'Times another MAC claimed a VIP this node answered for', (s) => s.counters.conflicts);
  const gauge = (name: string, help: string, value: (s: L2Status) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const s = status();
        if (s === undefined) this.remove(); // no series, not 0: a BGP-only node is not "ineligible"
        else this.set(value(s));
      },
    });
  };
  gauge('vipgate_l2_vips_answered', 'L2 VIPs this node answers ARP/NDP for now', (s) => s.vips.filter((v) => v.answering).length);
  // Owned but not answered is the silent failure: the other nodes leave the VIP to this one.
  gauge('vipgate_l2_vips_owned', 'L2 VIPs this node owns by the ownership rule; more than vipgate_l2_vips_answered while it cannot answer on an interface or another MAC answers its probes', (s) => s.vips.filter((v) => v.owner === s.node).length);
  gauge('vipgate_l2_vips_unowned', 'L2 VIPs no live node can serve, as this node sees it (nobody answers for them)', (s) => s.vips.filter((v) => v.owner === undefined).length);
  gauge('vipgate_l2_eligible', '1 while this node may own L2 VIPs (0: dataplane broken, draining or stopping)', (s) => (s.eligible ? 1 : 0));
  new Gauge({
    name: 'vipgate_l2_peer_up',
    help: '1 while the BFD session with the other L2 LB node is Up',
    labelNames: ['peer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of status()?.peers ?? []) this.set({ peer: p.name }, p.state === 'Up' ? 1 : 0);
    },
  });
}
