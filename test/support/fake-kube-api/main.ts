// The fake API server as a process of its own, so a lab can run it inside a network namespace
// next to the controller and the agent (they then reach it on that namespace's loopback, or on
// --host, an address of that namespace):
//   node --import tsx test/support/fake-kube-api/main.ts [--port N] [--host ADDR] [--kubeconfig FILE]
//     [--tls-cert FILE --tls-key FILE]
// Prints `listening <url>` once it accepts connections; runs until SIGTERM or SIGINT.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FakeKubeApi } from './server.ts';
import { applyVipgateCrds } from './fixtures.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    kubeconfig: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
  strict: true,
});
if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
  process.stderr.write('fake-kube-api: --tls-cert and --tls-key go together\n');
  process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`fake-kube-api: --port ${values.port}: expected an integer 0–65535 (0: any free port)\n`);
  process.exit(2);
}

const tls = values['tls-cert'] === undefined || values['tls-key'] === undefined ? undefined : { cert: await readFile(values['tls-cert'], 'utf8'), key: await readFile(values['tls-key'], 'utf8') };
const api = new FakeKubeApi(tls === undefined ? {} : { tls });
applyVipgateCrds(api);
const url = await api.start(port, values.host);
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
