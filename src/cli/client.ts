import { request } from 'node:http';

export const DEFAULT_API = 'http://127.0.0.1:9470';

/** GETs JSON from the agent's API; a refused connection says plainly that no agent is there. */
export function apiGet<T>(base: string, path: string, timeoutMs = 5000): Promise<T> {
  return apiRequest<T>('GET', base, path, timeoutMs);
}

/** POSTs to the agent's API (`vipgate drain`, `vipgate undrain`), answering its JSON. */
export function apiPost<T>(base: string, path: string, timeoutMs = 5000): Promise<T> {
  return apiRequest<T>('POST', base, path, timeoutMs);
}

function apiRequest<T>(method: 'GET' | 'POST', base: string, path: string, timeoutMs: number): Promise<T> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new Error(`${url.href} answered ${res.statusCode}: ${text.trim()}`));
          return;
        }
        try {
          resolve(JSON.parse(text) as T);
        } catch {
          reject(new Error(`${url.href} did not answer JSON`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from the agent at ${base} within ${timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ECONNREFUSED'
          ? new Error(`no agent is listening at ${base} (is \`vipgate agent\` running here, in this network namespace?)`)
          : error,
      );
    });
    req.end();
  });
}
