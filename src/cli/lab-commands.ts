import { Lab, demoTopology } from '../../lab/index.ts';

/** `vipgate lab up`: the demo network with its pods, left up for exploring (no agent). */
export async function labUp(): Promise<number> {
  const lab = await Lab.up(demoTopology());
  const backends = await lab.startBackends();
  // The lab outlives this command: let go of the pods' pipes so the process can exit.
  for (const b of backends) {
    b.process.child.stdout?.destroy();
    b.process.child.stderr?.destroy();
    b.process.child.unref();
  }
  process.stdout.write(
    `lab ${lab.prefix} is up: ${lab.plan.namespaces.join(' ')}\n` +
      `  ip netns exec ${lab.ns('client')} curl http://10.100.1.41/   # not routed yet: VIPs need an agent in lb1\n` +
      `  bin/vipgate lab down ${lab.prefix}\n`,
  );
  return 0;
}

/** `vipgate lab down [prefix] [--all]`: removes a lab, or every leftover one. */
export async function labDown(prefix: string | undefined, all: boolean): Promise<number> {
  if (prefix !== undefined) {
    await Lab.down(prefix);
    process.stdout.write(`lab ${prefix} removed\n`);
    return 0;
  }
  const removed = await Lab.downAll({ includeLive: all });
  process.stdout.write(removed.length === 0 ? 'no vipgate lab to remove\n' : `removed: ${removed.join(' ')}\n`);
  return 0;
}

/** `vipgate lab status`: the labs on this machine and whether their owner still runs. */
export async function labStatus(): Promise<number> {
  const labs = await Lab.list();
  if (labs.length === 0) {
    process.stdout.write('no vipgate lab on this machine\n');
    return 0;
  }
  for (const l of labs) {
    process.stdout.write(
      `${l.prefix}  created ${l.createdAt}  ${l.namespaces.length} namespaces  ${l.processesAlive} processes  ${l.ownerAlive ? 'in use' : 'leftover (owner gone)'}\n`,
    );
  }
  return 0;
}
