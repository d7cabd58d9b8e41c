import { Command, Option } from 'commander';
import { apiGet, apiPost, DEFAULT_API } from './client.ts';
import { formatBgpPeers, formatBgpRoutes, formatDrain, formatRoutes, formatServiceList, formatStatus } from './format.ts';
import type { DrainStatus, L2StatusView } from '../api/status.ts';
import { formatL2Status } from './format-l2.ts';
import type { ServicesView, StatusView } from '../api/views.ts';
import type { BgpPeersView, BgpRoutesView, RoutesView } from '../api/server.ts';
import { manifestsCommand } from '../manifests/cli.ts';
import { migrateCommand } from '../migrate/cli.ts';
import type { ControllerCommandOptions } from './controller-command.ts';
import type { AgentCommandOptions } from './agent-command.ts';
import { VERSION } from '../version.ts';

/** Exit statuses: 0 fine, 1 runtime failure, 2 bad usage or bad config (nothing was started). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const program = new Command('vipgate')
  .description(
    'Virtual IPs for bare-metal Kubernetes: VIPs from your pools, served from LB nodes by a kernel ' +
      'fast path (nftables or XDP), announced to your routers by BGP.',
  )
  .version(VERSION)
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Quick start:
  make demo                       build a lab of network namespaces and walk through vipgate
  vipgate agent --config lb1.yaml run the agent on an LB node (standalone config)
  vipgate service list            what the local agent serves
  vipgate manifests | kubectl apply -f -   install into a cluster (docs/kubernetes.md)

Docs: README.md, docs/config.md`,
  );

const apiOption = new Option('--api <url>', "the agent's API").default(DEFAULT_API);

program
  .command('agent')
  .description('run the LB node agent: reconcile the config into the VIP interface and the dataplane')
  .option(
    '-c, --config <file>',
    "standalone config file (YAML); see docs/config.md. With --kubernetes or --kubeconfig it is optional and gives only this node's settings (default: the LBNodeConfig that selects this node)",
  )
  .option('--state-file <file>', 'where LoadBalancer VIP assignments are kept across restarts', '/var/lib/vipgate/assignments.json')
  .option('--api-listen <host:port>', "serve the API here (overrides the config's api.listen)")
  .option('--metrics-listen <host:port>', 'also serve /metrics and /healthz (only those) here, e.g. 0.0.0.0:9472')
  .option('--cleanup', 'take the node out for good: BGP routers drop its routes, then the nftables table and VIP interface are removed; exits', false)
  .option('--once', 'run one reconcile pass and exit (rules stay in place)', false)
  .option('--kubernetes', "take Services, EndpointSlices, VIPPools and this node's LBNodeConfig from Kubernetes, with the pod's service account", false)
  .option(
    '--kubeconfig <file>',
    "as --kubernetes, with this kubeconfig ('in-cluster' for the pod's service account), e.g. for an LB outside the cluster",
  )
  .option('--node-name <name>', "this node's Node object, which selects its LBNodeConfig (default: the host name)")
  .option('--load-balancer-class <class>', 'the spec.loadBalancerClass served (default: vipgate.io/lb)')
  .option('--default-load-balancer-class', 'also serve LoadBalancer Services with no loadBalancerClass', false)
  .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
  .action(async (opts: AgentCommandOptions) => {
    const { runAgentCommand } = await import('./agent-command.ts');
    process.exitCode = await runAgentCommand(opts);
  });

program
  .command('controller')
  .description('assign VIPs to LoadBalancer Services and write them to their status (one active replica, by Lease)')
  .option('--kubeconfig <file>', "kubeconfig file (default: the pod's service account)")
  .option('--lease-name <name>', 'the Lease that elects the active replica', 'vipgate-controller')
  .option('--lease-namespace <namespace>', "vipgate's namespace: the Lease and the admission params ConfigMap", 'vipgate-system')
  .option('--lease-identity <id>', 'this replica in the Lease (default: host name + random)')
  .option('--load-balancer-class <class>', 'the spec.loadBalancerClass handled', 'vipgate.io/lb')
  .option('--default-load-balancer-class', 'also handle LoadBalancer Services with no loadBalancerClass', false)
  .option('--metrics-listen <host:port>', 'serve /metrics, /healthz (ready while a replica leads) and /livez here', '0.0.0.0:9471')
  .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
  .action(async (opts: ControllerCommandOptions) => {
    const { runControllerCommand } = await import('./controller-command.ts');
    process.exitCode = await runControllerCommand(opts);
  });

manifestsCommand(program);
migrateCommand(program);

program
  .command('check-config')
  .description('validate a config file and print every problem with its file:line, field and allowed values')
  .argument('<file>', 'config file (YAML)')
  .action(async (file: string) => {
    const { checkConfigFile } = await import('./check-config.ts');
    process.exitCode = await checkConfigFile(file);
  });

const service = program.command('service').description('the service table of the local agent');
service
  .command('list')
  .description('one row per frontend (VIP:port/proto): type, backends, packets and bytes')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
  .addOption(apiOption)
  .action(async (opts: { output: string; api: string }) => {
    const view = await apiGet<ServicesView>(opts.api, '/v1/services');
    process.stdout.write(opts.output === 'json' ? `${JSON.stringify(view, null, 2)}\n` : formatServiceList(view));
  });

program
  .command('status')
  .description("the local agent's state: last reconcile, Services not served, objects left out, config errors")
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
  .addOption(apiOption)
  .action(async (opts: { output: string; api: string }) => {
    const status = await apiGet<StatusView>(opts.api, '/v1/status');
    process.stdout.write(opts.output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  });

program
  .command('routes')
  .description('print the route a client or router needs to reach the VIPs through this LB node')
  .option('--via <address>', 'next hop to print (default: the address of the node on its default route)')
  .addOption(apiOption)
  .action(async (opts: { api: string; via?: string }) => {
    const view = await apiGet<RoutesView>(opts.api, '/v1/routes');
    process.stdout.write(formatRoutes(view.prefixes, opts.via === undefined ? view.via : [opts.via]));
  });

program
  .command('drain')
  .description(
    'take this LB node out of service gently: re-announce every route with GRACEFUL_SHUTDOWN (65535:0) and a lower preference, ' +
      'wait until no packet reaches a VIP here (bgp.drain.quietSeconds, at most bgp.drain.timeoutSeconds), then withdraw. Kept across agent restarts until `vipgate undrain`',
  )
  .option('--wait', 'return only once the node is drained (routes withdrawn)', false)
  .option('--wait-timeout <seconds>', 'give up waiting after this long (exit status 1)', '600')
  .addOption(apiOption)
  .action(async (opts: { api: string; wait: boolean; waitTimeout: string }) => {
    let status = await apiPost<DrainStatus>(opts.api, '/v1/drain');
    const giveUp = Date.now() + Number(opts.waitTimeout) * 1000;
    while (opts.wait && status.state !== 'drained') {
      if (Date.now() > giveUp) throw new Error(`still ${status.state} after ${opts.waitTimeout} s`);
      await new Promise((r) => setTimeout(r, 250));
      status = (await apiGet<StatusView>(opts.api, '/v1/status')).drain ?? status;
    }
    process.stdout.write(`${formatDrain(status)}\n`);
  });

program
  .command('undrain')
  .description('put this LB node back in service: announce its routes normally again (a cordoned Node or an LBNodeConfig with spec.drain keeps it drained)')
  .addOption(apiOption)
  .action(async (opts: { api: string }) => {
    process.stdout.write(`${formatDrain(await apiPost<DrainStatus>(opts.api, '/v1/undrain'))}\n`);
  });

const bgp = program.command('bgp').description("the local agent's BGP sessions and what the routers were told");
bgp
  .command('peers')
  .description('one row per router: state, uptime, prefixes sent and received, last error')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
  .addOption(apiOption)
  .action(async (opts: { output: string; api: string }) => {
    const view = await apiGet<BgpPeersView>(opts.api, '/v1/bgp/peers');
    process.stdout.write(opts.output === 'json' ? `${JSON.stringify(view, null, 2)}\n` : formatBgpPeers(view.peers, view.drain));
  });
bgp
  .command('routes')
  .description('the prefixes each router has been told about (Adj-RIB-Out)')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
  .addOption(apiOption)
  .action(async (opts: { output: string; api: string }) => {
    const view = await apiGet<BgpRoutesView>(opts.api, '/v1/bgp/routes');
    process.stdout.write(opts.output === 'json' ? `${JSON.stringify(view, null, 2)}\n` : formatBgpRoutes(view));
  });

program
  .command('l2')
  .description('L2 mode (ARP/NDP): which LB node answers for each VIP, since when and why')
  .command('status')
  .description('one row per L2 VIP (owner, since, why) and one per L2 peer (its BFD session)')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
  .addOption(apiOption)
  .action(async (opts: { output: string; api: string }) => {
    const view = await apiGet<L2StatusView>(opts.api, '/v1/l2');
    process.stdout.write(opts.output === 'json' ? `${JSON.stringify(view, null, 2)}\n` : formatL2Status(view));
  });

program
  .command('explain')
  .description('why a VIP is (not) reachable: walks Service, policy, allocation, drain, frontend, backends, the kernel (read back), traffic and the announcement on each agent; names the first broken link and its fix. With --kubeconfig, walks the cluster\'s objects instead (the Service, its conditions and Events, VIPPools, LB nodes and each node\'s LBNodeStatus), without reaching any agent. Exit status 0 when served, 1 when not, 2 for a bad target')
  .argument('<target>', 'namespace/name, a VIP (10.200.0.5) or VIP:port (10.200.0.5:80, [fd00:200::5]:80)')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
  .addOption(
    new Option('--api <url>', "an agent's API; repeat it or give a comma list to ask several LB nodes")
      .default([] as string[], DEFAULT_API)
      .argParser((v: string, prev: string[]) => [...prev, ...v.split(',').filter((x) => x !== '')]),
  )
  .option('--sample <ms>', 'watch the frontends\' packet counters this long (0: do not)', '1000')
  .option('--kubeconfig <file>', 'Kubernetes: read the cluster (get/list only: services, events, nodes, vippools, lbnodeconfigs, lbnodestatuses) instead of asking agents; the per-node answers are those the agents last published in their LBNodeStatus')
  .option('--default-load-balancer-class', 'with --kubeconfig: vipgate also serves LoadBalancer Services without a class (as the controller was started)', false)
  .action(async (target: string, opts: { api: string[]; output: string; sample: string; kubeconfig?: string; defaultLoadBalancerClass: boolean }) => {
    const { runExplain } = await import('./explain-command.ts');
    process.exitCode = await runExplain(target, opts);
  });

const lab = program.command('lab').description('the network-namespace lab used by the demo, tests and benchmarks');
lab
  .command('up')
  .description('build the demo topology (client, router, lb1, node1, node2 and pods) and leave it up')
  .action(async () => {
    const { labUp } = await import('./lab-commands.ts');
    process.exitCode = await labUp();
  });
lab
  .command('down')
  .description('remove a lab (its namespaces and processes); with no prefix, every leftover lab')
  .argument('[prefix]', 'the lab prefix printed by `lab up` or `lab status`')
  .option('--all', 'also remove labs whose owner process still runs', false)
  .action(async (prefix: string | undefined, opts: { all: boolean }) => {
    const { labDown } = await import('./lab-commands.ts');
    process.exitCode = await labDown(prefix, opts.all);
  });
lab
  .command('status')
  .description('list the vipgate labs on this machine')
  .action(async () => {
    const { labStatus } = await import('./lab-commands.ts');
    process.exitCode = await labStatus();
  });

program
  .command('demo')
  .description('run the walk-through in a lab: VIPs served by the agent, curl from a client, a cluster node refused, a backend removed; then BGP to a BIRD router from two LB nodes (nftables and XDP), ECMP and failover')
  .option('--keep', 'leave the lab up at the end (remove it later with `vipgate lab down`)', false)
  .option('--l2', 'instead: L2 mode on a flat network (client and two LB nodes on one bridge, each VIP answered by one node over ARP/NDP), the owner\'s cable pulled under load', false)
  .action(async (opts: { keep: boolean; l2: boolean }) => {
    const { runDemo } = await import('../../lab/demo.ts');
    process.exitCode = await runDemo(opts);
  });

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`vipgate: ${(error as Error).message}\n`);
  process.exitCode = EXIT.failure;
});
