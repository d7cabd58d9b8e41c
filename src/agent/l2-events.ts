// Kubernetes Events for L2 ownership (docs/design/017, "Observability"): the node that takes a VIP
// over says so on the Service(s) holding it, and a node that sees another MAC claim one of its
// VIPs warns. Rate-limited twice: once per VIP and kind (a flapping VIP writes one Event per
// window, the rest are counted in the next one), and overall (a node taking over hundreds of VIPs
// at once writes a bounded burst). Pure but for the clock; the Kubernetes source writes them.
import type { EventRecord } from '../kube/index.ts';

export interface L2Event {
  readonly kind: 'takeover' | 'conflict';
  readonly vip: string;
  readonly message: string;
}

export interface L2EventOptions {
  readonly record: (event: EventRecord) => void;
  /** The Services (`namespace/name`) that hold `vip`. */
  readonly servicesOf: (vip: string) => readonly string[];
  readonly now?: () => number;
  /** At most one Event per VIP and kind in this window. */
  readonly perVipMs?: number;
  /** At most this many Events per `windowMs` in all. */
  readonly burst?: number;
  readonly windowMs?: number;
}

const REASONS = { takeover: 'L2OwnerChanged', conflict: 'L2Conflict' } as const;

export function l2EventRecorder(options: L2EventOptions): (event: L2Event) => void {
  const now = options.now ?? Date.now;
  const perVipMs = options.perVipMs ?? 30_000;
  const burst = options.burst ?? 20;
  const windowMs = options.windowMs ?? 10_000;
  const lastByKey = new Map<string, { at: number; suppressed: number }>(); // "kind vip" → last Event
  let windowStart = 0;
  let inWindow = 0;
  return (event) => {
    const t = now();
    const key = `${event.kind} ${event.vip}`;
    const last = lastByKey.get(key);
    if (last !== undefined && t - last.at < perVipMs) {
      last.suppressed++;
      return;
    }
    if (t - windowStart >= windowMs) {
      windowStart = t;
      inWindow = 0;
    }
    const services = options.servicesOf(event.vip);
    if (inWindow + services.length > burst) return;
    inWindow += services.length;
    const suppressed = last?.suppressed ?? 0;
    lastByKey.set(key, { at: t, suppressed: 0 });
    const more = suppressed === 0 ? '' : ` (${suppressed} more like it since the last Event)`;
    for (const service of services) {
      const [namespace, name] = service.split('/') as [string, string];
      options.record({
        namespace,
        involved: { kind: 'Service', name, namespace },
        type: event.kind === 'conflict' ? 'Warning' : 'Normal',
        reason: REASONS[event.kind],
        message: `${event.message}${more}`,
        component: 'vipgate-agent',
        at: new Date(t),
      });
    }
  };
}
