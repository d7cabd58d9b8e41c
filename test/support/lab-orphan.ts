// Builds a small lab with backends and waits to be killed: test/lab.test.ts SIGKILLs this
// process to leave a lab without its owner, then removes it through the state file.
import { Lab } from '../../lab/index.ts';

const prefix = process.argv[2];
if (prefix === undefined) throw new Error('usage: lab-orphan.ts PREFIX');
const lab = await Lab.up(
  {
    hosts: [{ name: 'node', forwarding: true }],
    segments: [],
    pods: [{ name: 'pod', node: 'node', addresses: ['10.100.9.41'] }],
  },
  { prefix },
);
await lab.startBackends();
process.stdout.write('ready\n');
// Bounded: if the test never kills us, clean up after 60 s rather than leave a lab behind.
setTimeout(() => void lab.down().then(() => process.exit(3)), 60_000);
