// The loop of a lab child driven over JSON lines: each stdin line is a command with an `id`;
// each is answered on stdout with {"id":…,"ok":true,"result":…} or {"id":…,"ok":false,"error":"…"}.
// Resolves when stdin closes (the parent is gone).
import { createInterface } from 'node:readline';

// C is the child's own command type: the JSON is taken as it, unchecked, as each child did before.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
export async function serveJsonLines<C extends { readonly id: number }>(run: (command: C) => unknown): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const c = JSON.parse(line) as C;
    try {
      const result: unknown = await run(c);
      process.stdout.write(`${JSON.stringify({ id: c.id, ok: true, result })}\n`);
    } catch (e) {
      process.stdout.write(`${JSON.stringify({ id: c.id, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) })}\n`);
    }
  }
}
