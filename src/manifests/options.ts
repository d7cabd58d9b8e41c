import { ManifestsError, ManifestsErrorCode } from './errors.ts';
import { VERSION } from '../version.ts';
import { LOAD_BALANCER_CLASS } from '../kube-model/names.ts';

/** Where vipgate's image is published. */
export const IMAGE_REPOSITORY = 'ghcr.io/vipgate/vipgate';
/**
 * The image this checkout builds (`make image`, scripts/build-image.sh asks this module) and the
 * manifests' default: the repository tagged with package.json's version.
 */
export const DEFAULT_IMAGE = `${IMAGE_REPOSITORY}:${VERSION}`;

export const TaintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TaintEffects)[number];

/** A toleration for the LB nodes' taint; no value means "any value" (operator Exists). */
export interface LbToleration {
  readonly key: string;
  readonly value?: string;
  readonly effect: TaintEffect;
}

export interface ManifestOptions {
  /** Where the controller, the agent and their RBAC live. */
  readonly namespace: string;
  readonly image: string;
  readonly imagePullPolicy: 'IfNotPresent' | 'Always' | 'Never';
  /** Replicas of the controller; one is active at a time (Lease), the others wait. */
  readonly controllerReplicas: number;
  /** The agent runs only on nodes with all these labels (the LB nodes). */
  readonly lbNodeSelector: Readonly<Record<string, string>>;
  /** Taints of the LB nodes the agent tolerates (they keep workloads off those nodes). */
  readonly lbTolerations: readonly LbToleration[];
  /** Grant the agent SYS_ADMIN (for bpf(); see agentCapabilities) and mount bpffs, for the XDP engine. */
  readonly xdp: boolean;
  /** `spec.loadBalancerClass` vipgate answers to. */
  readonly loadBalancerClass: string;
  /** Also handle LoadBalancer Services that name no class (vipgate is the cluster's default). */
  readonly defaultLoadBalancerClass: boolean;
  /** Ship the ValidatingAdmissionPolicy that refuses unallowed `spec.externalIPs`. */
  readonly admissionPolicy: boolean;
  readonly controllerMetricsPort: number;
  readonly agentMetricsPort: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Also a PrometheusRule (deploy/monitoring's alerts) and PodMonitors for prometheus-operator. */
  readonly monitoring: boolean;
}

/** What `vipgate manifests` renders with no flags, and what `deploy/vipgate.yaml` holds. */
export const defaultManifestOptions: ManifestOptions = {
  namespace: 'vipgate-system',
  image: DEFAULT_IMAGE,
  imagePullPolicy: 'IfNotPresent',
  controllerReplicas: 2,
  lbNodeSelector: { 'node-role.kubernetes.io/lb': '' },
  lbTolerations: [{ key: 'node-role.kubernetes.io/lb', effect: 'NoSchedule' }],
  xdp: false,
  loadBalancerClass: LOAD_BALANCER_CLASS,
  defaultLoadBalancerClass: true,
  admissionPolicy: true,
  controllerMetricsPort: 9471,
  agentMetricsPort: 9472,
  logLevel: 'info',
  monitoring: false,
};

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
// registry/path:tag or @digest; no spaces or upper-case repository names (a docker reference).
const imageReference = /^[a-z0-9]+([._/:-][a-z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

function bad(option: string, value: unknown, allowed: string): ManifestsError {
  return new ManifestsError(ManifestsErrorCode.badOption, `${option}: ${JSON.stringify(value)} is not allowed; expected ${allowed}`, option);
}

/** Kubernetes' label key rule: optional DNS-subdomain prefix and "/", then a name of up to 63. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !dnsSubdomain.test(prefix)) return 'its prefix is not a DNS subdomain';
  if (!labelName.test(name)) return 'its name is not 1–63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric';
  return undefined;
}

function checkLabelValue(option: string, value: string): void {
  if (value !== '' && !labelName.test(value)) {
    throw bad(option, value, 'a label value: empty, or 1–63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric');
  }
}

function checkPort(option: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(option, port, 'an integer 1–65535');
}

/**
 * Merges `given` over the defaults and checks every value Kubernetes would refuse, so a bad
 * flag fails here with the flag's name rather than at `kubectl apply` with a server message.
 */
export function resolveManifestOptions(given: Partial<ManifestOptions> = {}): ManifestOptions {
  const o: ManifestOptions = { ...defaultManifestOptions, ...given };
  if (!dnsLabel.test(o.namespace)) throw bad('--namespace', o.namespace, 'a DNS label: 1–63 of a-z 0-9 -, starting and ending alphanumeric');
  if (!imageReference.test(o.image)) throw bad('--image', o.image, `an image reference such as ${DEFAULT_IMAGE}`);
  if (!['IfNotPresent', 'Always', 'Never'].includes(o.imagePullPolicy)) throw bad('--image-pull-policy', o.imagePullPolicy, 'IfNotPresent, Always or Never');
  if (!Number.isInteger(o.controllerReplicas) || o.controllerReplicas < 1 || o.controllerReplicas > 10) {
    throw bad('--controller-replicas', o.controllerReplicas, 'an integer 1–10');
  }
  for (const [key, value] of Object.entries(o.lbNodeSelector)) {
    const problem = labelKeyProblem(key);
    if (problem !== undefined) throw bad('--lb-node-selector', key, `a label key (${problem})`);
    checkLabelValue('--lb-node-selector', value);
  }
  for (const t of o.lbTolerations) {
    const problem = labelKeyProblem(t.key);
    if (problem !== undefined) throw bad('--lb-toleration', t.key, `a taint key (${problem})`);
    if (t.value !== undefined) checkLabelValue('--lb-toleration', t.value);
    if (!TaintEffects.includes(t.effect)) throw bad('--lb-toleration', t.effect, `one of ${TaintEffects.join(', ')}`);
  }
  const classProblem = labelKeyProblem(o.loadBalancerClass);
  if (classProblem !== undefined || !o.loadBalancerClass.includes('/')) {
    throw bad('--load-balancer-class', o.loadBalancerClass, 'a label-style name with a prefix, such as vipgate.io/lb');
  }
  checkPort('--controller-metrics-port', o.controllerMetricsPort);
  checkPort('--agent-metrics-port', o.agentMetricsPort);
  if (!['debug', 'info', 'warn', 'error'].includes(o.logLevel)) throw bad('--log-level', o.logLevel, 'debug, info, warn or error');
  return o;
}
