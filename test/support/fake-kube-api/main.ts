// The fake API server as a process of its own, so a lab can run it inside a network namespace
// next to the controller and the agent (they then reach it on that namespace's loopback):
//   node --import tsx test/support/fake-kube-api/main.ts [--port N] [--kubeconfig FILE]
// Prints `listening <url>` once it accepts connections; runs until SIGTERM or SIGINT.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FakeKubeApi } from './server.ts';
import { applyVipgateCrds } from './fixtures.ts';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, kubeconfig: { type: 'string' } },
  strict: true,
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`fake-kube-api: --port ${values.port}: expected an integer 0–65535 (0: any free port)\n`);
  process.exit(2);
}

const api = new FakeKubeApi();

applyVipgateCrds(api);
const url = await api.start(port);
// The kubeconfig is written before the line is printed: whoever waits for the line may use it.
if (values.kubeconfig !== undefined) await writeFile(values.kubeconfig, api.kubeconfig());
process.stdout.write(`listening ${url}\n`);

const stop = (): void => {
  api.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
