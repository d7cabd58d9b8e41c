/**
 * `vipgate manifests`: the install as YAML (or JSON) on stdout, for `| kubectl apply -f -`.
 * Wire it with `manifestsCommand(program)`; exit status 2 and one line on stderr for a bad flag.
 */
import { Command, Option } from 'commander';
import { ManifestsError, ManifestsErrorCode } from './errors.ts';
import { defaultManifestOptions, TaintEffects, type LbToleration, type ManifestOptions, type TaintEffect } from './options.ts';
import { manifestsToYaml, renderManifests } from './render.ts';

/** Flags as commander hands them over (strings where the user typed text). */
export interface ManifestsFlags {
  readonly namespace?: string;
  readonly image?: string;
  readonly imagePullPolicy?: string;
  readonly controllerReplicas?: string;
  readonly lbNodeSelector?: string;
  /** Repeated `--lb-toleration`; `false` from `--no-lb-toleration`. */
  readonly lbToleration?: readonly string[] | false;
  readonly xdp?: boolean;
  readonly loadBalancerClass?: string;
  readonly defaultLoadBalancerClass?: boolean;
  readonly admissionPolicy?: boolean;
  readonly controllerMetricsPort?: string;
  readonly agentMetricsPort?: string;
  readonly logLevel?: string;
  readonly monitoring?: boolean;
  readonly output?: string;
}

function bad(option: string, value: string, allowed: string): ManifestsError {
  return new ManifestsError(ManifestsErrorCode.badOption, `${option}: ${JSON.stringify(value)} is not allowed; expected ${allowed}`, option);
}

/** "key=value,key2=" → labels; "" → no selector (every node). */
export function parseNodeSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text.trim() === '') return out;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw bad('--lb-node-selector', part, 'key=value pairs separated by commas (value may be empty: node-role.kubernetes.io/lb=)');
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** "key:Effect" (any value) or "key=value:Effect", as `kubectl taint` writes taints. */
export function parseToleration(text: string): LbToleration {
  const colon = text.lastIndexOf(':');
  const effect = text.slice(colon + 1);
  if (colon <= 0 || !(TaintEffects as readonly string[]).includes(effect)) {
    throw bad('--lb-toleration', text, `key[=value]:Effect with Effect one of ${TaintEffects.join(', ')}`);
  }
  const keyValue = text.slice(0, colon);
  const eq = keyValue.indexOf('=');
  return eq < 0
    ? { key: keyValue, effect: effect as TaintEffect }
    : { key: keyValue.slice(0, eq), value: keyValue.slice(eq + 1), effect: effect as TaintEffect };
}

function integer(option: string, text: string): number {
  if (!/^[0-9]{1,6}$/.test(text)) throw bad(option, text, 'a whole number');
  return Number(text);
}

/** Flags → options; unknown enum values are passed on for resolveManifestOptions to name. */
export function optionsFromFlags(flags: ManifestsFlags): Partial<ManifestOptions> {
  const o: { -readonly [K in keyof ManifestOptions]?: ManifestOptions[K] } = {};
  if (flags.namespace !== undefined) o.namespace = flags.namespace;
  if (flags.image !== undefined) o.image = flags.image;
  if (flags.imagePullPolicy !== undefined) o.imagePullPolicy = flags.imagePullPolicy as ManifestOptions['imagePullPolicy'];
  if (flags.controllerReplicas !== undefined) o.controllerReplicas = integer('--controller-replicas', flags.controllerReplicas);
  if (flags.lbNodeSelector !== undefined) o.lbNodeSelector = parseNodeSelector(flags.lbNodeSelector);
  if (flags.lbToleration === false) o.lbTolerations = [];
  else if (flags.lbToleration !== undefined) o.lbTolerations = flags.lbToleration.map(parseToleration);
  if (flags.xdp !== undefined) o.xdp = flags.xdp;
  if (flags.loadBalancerClass !== undefined) o.loadBalancerClass = flags.loadBalancerClass;
  if (flags.defaultLoadBalancerClass !== undefined) o.defaultLoadBalancerClass = flags.defaultLoadBalancerClass;
  if (flags.admissionPolicy !== undefined) o.admissionPolicy = flags.admissionPolicy;
  if (flags.controllerMetricsPort !== undefined) o.controllerMetricsPort = integer('--controller-metrics-port', flags.controllerMetricsPort);
  if (flags.agentMetricsPort !== undefined) o.agentMetricsPort = integer('--agent-metrics-port', flags.agentMetricsPort);
  if (flags.logLevel !== undefined) o.logLevel = flags.logLevel as ManifestOptions['logLevel'];
  if (flags.monitoring !== undefined) o.monitoring = flags.monitoring;
  return o;
}

/** The text `vipgate manifests` prints for these flags; throws ManifestsError for a bad one. */
export function runManifests(flags: ManifestsFlags): string {
  const objects = renderManifests(optionsFromFlags(flags));
  if (flags.output === 'json') return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
  return manifestsToYaml(objects);
}

function collect(value: string, previous: string[] | false | undefined): string[] {
  return [...(Array.isArray(previous) ? previous : []), value];
}

/** Adds `manifests` to the program. Exit status 2 for a bad flag, as elsewhere in the CLI. */
export function manifestsCommand(program: Command): Command {
  const d = defaultManifestOptions;
  return program
    .command('manifests')
    .description('print the Kubernetes install (CRDs, RBAC, controller, agent, admission policy): vipgate manifests | kubectl apply -f -')
    .option('--namespace <name>', "vipgate's namespace", d.namespace)
    .option('--image <ref>', 'container image of vipgate', d.image)
    .addOption(new Option('--image-pull-policy <policy>', 'image pull policy').choices(['IfNotPresent', 'Always', 'Never']).default(d.imagePullPolicy))
    .option('--controller-replicas <n>', 'controller replicas (one active through a Lease)', String(d.controllerReplicas))
    .option('--lb-node-selector <labels>', 'labels of the LB nodes the agent runs on, key=value,…; "" for every node', 'node-role.kubernetes.io/lb=')
    .option('--lb-toleration <key[=value]:Effect>', 'a taint of the LB nodes to tolerate (repeatable; default node-role.kubernetes.io/lb:NoSchedule)', collect)
    .option('--no-lb-toleration', 'tolerate no taint')
    .option('--xdp', 'grant the agent what the XDP engine needs (SYS_ADMIN, /sys/fs/bpf)', false)
    .option('--load-balancer-class <class>', 'spec.loadBalancerClass vipgate answers to', d.loadBalancerClass)
    .option('--no-default-load-balancer-class', 'leave LoadBalancer Services without a class to another implementation')
    .option('--no-admission-policy', 'leave out the ValidatingAdmissionPolicy for spec.externalIPs')
    .option('--controller-metrics-port <port>', 'controller metrics and health port', String(d.controllerMetricsPort))
    .option('--agent-metrics-port <port>', 'agent metrics and health port (on the node: hostNetwork)', String(d.agentMetricsPort))
    .option('--monitoring', 'also a PrometheusRule with the alerts of deploy/monitoring and PodMonitors for the controller and agents (prometheus-operator)', false)
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default(d.logLevel))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action((flags: ManifestsFlags) => {
      try {
        process.stdout.write(runManifests(flags));
      } catch (err) {
        if (!(err instanceof ManifestsError)) throw err;
        process.stderr.write(`vipgate manifests: ${err.message}\n`);
        process.exitCode = 2;
      }
    });
}
