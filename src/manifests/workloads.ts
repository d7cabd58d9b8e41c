import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IToleration } from 'kubernetes-models/v1/Toleration';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { commonLabels, CONTROLLER_LEASE_NAME, selectorLabels } from '../kube-model/names.ts';
import type { ManifestOptions } from './options.ts';
import { AGENT, CONTROLLER } from './rbac.ts';

export function namespaceObject(o: ManifestOptions): INamespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: o.namespace,
      // The agent needs hostNetwork and NET_ADMIN, which only the "privileged" Pod Security level admits.
      labels: { ...commonLabels('namespace'), 'pod-security.kubernetes.io/enforce': 'privileged' },
    },
  };
}

function fieldEnv(name: string, fieldPath: string): IEnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

function healthProbe(port: string, periodSeconds: number, path = '/healthz'): IProbe {
  return { httpGet: { path, port }, periodSeconds, timeoutSeconds: 2, failureThreshold: 3 };
}

export function controllerDeployment(o: ManifestOptions): IDeployment {
  const container: IContainer = {
    name: 'controller',
    image: o.image,
    imagePullPolicy: o.imagePullPolicy,
    args: [
      'controller',
      `--lease-name=${CONTROLLER_LEASE_NAME}`,
      '--lease-namespace=$(POD_NAMESPACE)',
      '--lease-identity=$(POD_NAME)',
      `--load-balancer-class=${o.loadBalancerClass}`,
      ...(o.defaultLoadBalancerClass ? ['--default-load-balancer-class'] : []),
      `--metrics-listen=0.0.0.0:${o.controllerMetricsPort}`,
      `--log-level=${o.logLevel}`,
    ],
    env: [fieldEnv('POD_NAME', 'metadata.name'), fieldEnv('POD_NAMESPACE', 'metadata.namespace')],
    ports: [{ name: 'metrics', containerPort: o.controllerMetricsPort, protocol: 'TCP' }],
    // Ready while some replica leads; alive while it answers (a restart can't cure a refused Lease).
    readinessProbe: healthProbe('metrics', 10),
    livenessProbe: healthProbe('metrics', 20, '/livez'),
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: CONTROLLER, namespace: o.namespace, labels: commonLabels('controller') },
    spec: {
      replicas: o.controllerReplicas,
      selector: { matchLabels: selectorLabels('controller') },
      template: {
        metadata: { labels: commonLabels('controller') },
        spec: {
          serviceAccountName: CONTROLLER,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          // Replicas on different nodes, so losing one node does not lose the standby too.
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selectorLabels('controller') } } },
              ],
            },
          },
          containers: [container],
        },
      },
    },
  };
}

/**
 * What the agent's image was measured to need, one capability dropped at a time
 * (test/image-lab.test.ts): NET_ADMIN for nftables, the VIP link, its addresses and routes, and
 * attaching XDP. The agent opens no raw socket (no NET_RAW) and binds no port below 1024: its BGP
 * sessions connect out to port 179 (no NET_BIND_SERVICE). XDP adds SYS_ADMIN: the kernel would
 * settle for BPF + PERFMON, but the RuntimeDefault seccomp profiles of containerd and podman
 * allow the bpf() syscall only with SYS_ADMIN, and SYS_ADMIN includes both (docs/kubernetes.md).
 */
export function agentCapabilities(o: ManifestOptions): string[] {
  return ['NET_ADMIN', ...(o.xdp ? ['SYS_ADMIN'] : [])];
}

function tolerations(o: ManifestOptions): IToleration[] {
  return o.lbTolerations.map((t) =>
    t.value === undefined ? { key: t.key, operator: 'Exists', effect: t.effect } : { key: t.key, operator: 'Equal', value: t.value, effect: t.effect },
  );
}

export function agentDaemonSet(o: ManifestOptions): IDaemonSet {
  // The root filesystem is read-only. /var/lib/vipgate holds the agent's state file (--state-file's
  // default): on the node, so that a restarted agent (a new pod too) knows it restarted and asks
  // its BGP routers to keep its routes meanwhile (graceful restart).
  const mounts: IVolumeMount[] = [
    { name: 'tmp', mountPath: '/tmp' },
    { name: 'state', mountPath: '/var/lib/vipgate' },
  ];
  const volumes: IVolume[] = [
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    { name: 'state', hostPath: { path: '/var/lib/vipgate', type: 'DirectoryOrCreate' } },
  ];
  if (o.xdp) {
    // Pinned maps outlive an agent restart, so traffic keeps flowing while it comes back.
    mounts.push({ name: 'bpffs', mountPath: '/sys/fs/bpf' });
    volumes.push({ name: 'bpffs', hostPath: { path: '/sys/fs/bpf', type: 'Directory' } });
  }
  const container: IContainer = {
    name: 'agent',
    image: o.image,
    imagePullPolicy: o.imagePullPolicy,
    args: [
      'agent',
      '--kubernetes',
      '--node-name=$(NODE_NAME)',
      // The API has no authentication: loopback only. Metrics get their own listener.
      '--api-listen=127.0.0.1:9470',
      `--metrics-listen=0.0.0.0:${o.agentMetricsPort}`,
      `--load-balancer-class=${o.loadBalancerClass}`,
      ...(o.defaultLoadBalancerClass ? ['--default-load-balancer-class'] : []),
      `--log-level=${o.logLevel}`,
    ],
    // POD_NAMESPACE: where the agent reads BGP password Secrets (its Role allows no other).
    env: [fieldEnv('NODE_NAME', 'spec.nodeName'), fieldEnv('POD_NAMESPACE', 'metadata.namespace')],
    // With hostNetwork the port is the node's port; declared so it is visible and scrapeable.
    ports: [{ name: 'metrics', containerPort: o.agentMetricsPort, protocol: 'TCP' }],
    readinessProbe: healthProbe('metrics', 10),
    livenessProbe: healthProbe('metrics', 20),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    securityContext: {
      // Root for netlink, but not privileged: only the capabilities above.
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: agentCapabilities(o) },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: mounts,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: AGENT, namespace: o.namespace, labels: commonLabels('agent') },
    spec: {
      selector: { matchLabels: selectorLabels('agent') },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: commonLabels('agent') },
        spec: {
          serviceAccountName: AGENT,
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          // The agent is the VIPs' data path: evicting it under pressure takes them all down.
          priorityClassName: 'system-node-critical',
          nodeSelector: { ...o.lbNodeSelector },
          tolerations: tolerations(o),
          terminationGracePeriodSeconds: 30,
          containers: [container],
          volumes,
        },
      },
    },
  };
}
