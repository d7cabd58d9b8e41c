import type { KubeConfig } from '@kubernetes/client-node';
import type { EventRecord } from './clients.ts';
import type { KubeService } from './objects.ts';
import { rawHttp, refusal, type RawHttp } from './raw-http.ts';

/**
 * The controller's two hot writes — a Service's status merge-patch and an Event — as plain JSON
 * over keep-alive HTTP (`raw-http.ts`). At 10,000 Services the client library's path (model
 * serializer, fetch shim, middleware promises) cost ~0.4 ms of CPU per request, most of the 10 s
 * the controller needed (bench/HISTORY.md §7); these requests carry the same headers, credentials
 * and bodies. Reads and everything else stay on the library.
 */
export interface RawWrites {
  patchServiceStatus(namespace: string, name: string, status: object, resourceVersion?: string): Promise<KubeService>;
  createEvent(event: EventRecord): Promise<void>;
}

export { ApiStatusError } from './raw-http.ts';

export async function rawWrites(kc: KubeConfig | RawHttp): Promise<RawWrites> {
  const http = 'request' in kc ? kc : await rawHttp(kc);

  async function json(method: string, path: string, body: object, contentType: string): Promise<unknown> {
    const { status, text } = await http.request(method, path, body, contentType);
    if (status < 200 || status >= 300) throw refusal(method, path, status, text);
    try {
      return text === '' ? undefined : JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  return {
    async patchServiceStatus(namespace, name, status, resourceVersion) {
      const body = { ...(resourceVersion === undefined ? {} : { metadata: { resourceVersion } }), status };
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}/status`;
      return (await json('PATCH', path, body, 'application/merge-patch+json')) as KubeService;
    },
    async createEvent(e) {
      const event = {
        apiVersion: 'v1', kind: 'Event',
        metadata: { generateName: `${e.involved.name}.`, namespace: e.namespace },
        involvedObject: { apiVersion: 'v1', ...e.involved }, type: e.type, reason: e.reason, message: e.message, count: 1,
        firstTimestamp: e.at.toISOString(), lastTimestamp: e.at.toISOString(), source: { component: e.component }, reportingComponent: e.component,
      };
      await json('POST', `/api/v1/namespaces/${encodeURIComponent(e.namespace)}/events`, event, 'application/json');
    },
  };
}
