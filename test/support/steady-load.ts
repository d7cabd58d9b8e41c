// A steady client load for lab tests that change paths under it (drain, restarts): back-to-back
// bounded probes from the client, a new connection per request, two at a time.
import type { BgpWalkthroughLab } from '../../lab/scenario-bgp.ts';
import type { FlowSample } from '../../lab/probe.ts';

/** Back-to-back bounded probes (at most 40 × 5 s) until `stop()`; the samples so far. */
export function steadyLoad(w: BgpWalkthroughLab, url: string): { samples: FlowSample[]; stop(): Promise<void> } {
  const samples: FlowSample[] = [];
  const load = { stopped: false };
  const running = (async () => {
    for (let i = 0; i < 40 && !load.stopped; i++) samples.push(...(await w.lab.flowProbe('client', url, { durationMs: 5000, concurrency: 2, timeoutMs: 2000 })));
  })();
  return {
    samples,
    stop: async () => {
      load.stopped = true;
      await running;
    },
  };
}
