// vipgate's container image in lab tests: built (or found up to date) by scripts/build-image.sh,
// loaded into this checkout's podman storage, and run the way a kubelet runs a pod's container.
// The podman flags are derived from the rendered manifests' pod and container specs (user,
// capabilities, read-only root, volumes, env, args), so a test runs exactly what a cluster would,
// and a field the translation does not know fails loudly instead of being dropped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { runCommand } from '../../lab/run.ts';
import { DEFAULT_IMAGE } from '../../src/manifests/options.ts';
import { projectRoot } from '../../src/project-root.ts';
import { VERSION } from '../../src/version.ts';

const ROOT = projectRoot();

/** Where the kubelet mounts a pod's service account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** This checkout's buildah/podman configuration (scripts/containers-env.sh), as variables. */
export async function containersEnv(): Promise<Record<string, string>> {
  const r = await runCommand([join(ROOT, 'scripts', 'containers-env.sh')]);
  if (r.exitCode !== 0) throw new Error(`scripts/containers-env.sh failed: ${r.stderr.trim()}`);
  return Object.fromEntries([...r.stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
}

export interface BuiltImage {
  readonly ref: string;
  readonly archive: string;
  /** The image ID: its config's digest. */
  readonly id: string;
  /** The manifest's digest: what a registry pins. */
  readonly digest: string;
}

/**
 * Builds the image when it is missing or stale (scripts/build-image.sh; a no-op in ~0.5 s when up
 * to date) and loads the archive into podman's storage, as `ctr images import` would on a node.
 * Needs the containers variables in process.env (containersEnv).
 */
export async function buildAndLoadImage(): Promise<BuiltImage> {
  const build = await runCommand([join(ROOT, 'scripts', 'build-image.sh')], { timeoutMs: 15 * 60_000 });
  if (build.exitCode !== 0) throw new Error(`scripts/build-image.sh failed (exit ${build.exitCode ?? 'none'}):\n${build.stdout}\n${build.stderr}`);
  const base = join(ROOT, 'build', 'image', `vipgate-${VERSION}`);
  const image: BuiltImage = {
    ref: DEFAULT_IMAGE,
    archive: `${base}.oci.tar`,
    id: readFileSync(`${base}.id`, 'utf8').trim(),
    digest: readFileSync(`${base}.digest`, 'utf8').trim(),
  };
  const load = await runCommand(['podman', 'load', '--quiet', '-i', image.archive], { timeoutMs: 120_000 });
  if (load.exitCode !== 0) throw new Error(`podman load ${image.archive}: ${load.stderr.trim()}`);
  const id = await runCommand(['podman', 'image', 'inspect', '--format', '{{.Id}}', image.ref]);
  if (`sha256:${id.stdout.trim()}` !== image.id) throw new Error(`podman has ${image.ref} as ${id.stdout.trim()}, the archive holds ${image.id}`);
  return image;
}

export interface PodRun {
  /** The container's name in podman. */
  readonly name: string;
  readonly image: string;
  readonly pod: IPodSpec;
  readonly container: IContainer;
  /** `--network` of podman: `ns:/run/netns/<name>` for a hostNetwork pod on that node. */
  readonly network: string;
  /** Values of the downward API's fieldRefs, e.g. { 'spec.nodeName': 'lb1' }. */
  readonly fields: Readonly<Record<string, string>>;
  /** What the kubelet adds: KUBERNETES_SERVICE_HOST and _PORT. */
  readonly env: Readonly<Record<string, string>>;
  /** The service account's directory (token, ca.crt, namespace) on this machine. */
  readonly serviceAccount: string;
  /** Host directories standing in for the pod's hostPath volumes, by volume name. */
  readonly hostPaths?: Readonly<Record<string, string>>;
  /** Instead of the container's `capabilities.add` (a test dropping one). */
  readonly capabilities?: readonly string[];
  /** More `--security-opt`s (a test showing what seccomp changes). */
  readonly securityOpts?: readonly string[];
}

/** Kubernetes quantities of emptyDir size limits, as tmpfs sizes ("16Mi" → "16m"). */
function tmpfsSize(quantity: string): string {
  const m = /^(\d+)(Ki|Mi|Gi)$/.exec(quantity);
  if (m === null) throw new Error(`emptyDir sizeLimit ${quantity}: only Ki, Mi or Gi are translated`);
  return `${m[1]!}${m[2]![0]!.toLowerCase()}`;
}

/** `podman run` arguments that run `container` of `pod` as a kubelet would (with `-d`). */
export function podmanRunArgs(run: PodRun): string[] {
  const { pod, container } = run;
  const sc = container.securityContext ?? {};
  const psc = pod.securityContext ?? {};
  if (sc.privileged === true) throw new Error('privileged containers are not translated');
  const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
  if (seccomp !== undefined && seccomp !== 'RuntimeDefault') throw new Error(`seccompProfile ${seccomp} is not translated`);
  const user = sc.runAsUser ?? psc.runAsUser;
  const group = sc.runAsGroup ?? psc.runAsGroup;
  const args = ['run', '-d', '--pull=never', '--name', run.name, '--network', run.network];
  // With no group the runtime takes the user's from the image's /etc/passwd, as podman does.
  if (user !== undefined) args.push('--user', group === undefined ? String(user) : `${user}:${group}`);
  // podman's --read-only also mounts tmpfs on /tmp, /run and /var/tmp; Kubernetes does not.
  if (sc.readOnlyRootFilesystem === true) args.push('--read-only', '--read-only-tmpfs=false');
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  for (const opt of run.securityOpts ?? []) args.push('--security-opt', opt);
  // seccomp RuntimeDefault: podman's default profile, applied without a flag.
  const drop = sc.capabilities?.drop ?? [];
  if (drop.length > 0 && !(drop.length === 1 && drop[0] === 'ALL')) throw new Error(`capabilities.drop ${drop.join(',')}: only [ALL] is translated`);
  if (drop.length > 0) args.push('--cap-drop=all');
  for (const cap of run.capabilities ?? sc.capabilities?.add ?? []) args.push(`--cap-add=${cap}`);
  const env: Record<string, string> = { ...run.env };
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef !== undefined) {
      const value = run.fields[e.valueFrom.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`env ${e.name}: no value given for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      env[e.name] = value;
    } else throw new Error(`env ${e.name}: only value and fieldRef are translated`);
  }
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  for (const mount of container.volumeMounts ?? []) {
    const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
    if (volume?.emptyDir?.medium === 'Memory') {
      const size = volume.emptyDir.sizeLimit;
      args.push('--tmpfs', `${mount.mountPath}${size === undefined ? '' : `:size=${tmpfsSize(String(size))}`}`);
    } else if (volume?.hostPath !== undefined) {
      const dir = run.hostPaths?.[mount.name];
      if (dir === undefined) throw new Error(`volume ${mount.name} (hostPath ${volume.hostPath.path}): no stand-in directory given`);
      args.push('-v', `${dir}:${mount.mountPath}${mount.readOnly === true ? ':ro' : ''}`);
    } else throw new Error(`volume ${mount.name}: only Memory emptyDirs and hostPaths are translated`);
  }
  args.push('-v', `${run.serviceAccount}:${SERVICE_ACCOUNT_DIR}:ro`);
  // The kubelet expands $(VAR) in args from the container's environment.
  const argv = (container.args ?? []).map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole));
  if (container.command !== undefined) throw new Error('command is not translated (the image has its entrypoint)');
  return [...args, run.image, ...argv];
}

/** Starts the container; resolves with its ID. */
export async function podmanRun(run: PodRun): Promise<string> {
  const r = await runCommand(['podman', ...podmanRunArgs(run)], { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`podman run ${run.name}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The last lines of a container's output, for assertion messages. */
export async function podmanLogs(name: string, lines = 30): Promise<string> {
  const r = await runCommand(['podman', 'logs', '--tail', String(lines), name]);
  return `${r.stdout}${r.stderr}`.trim();
}

/** SIGTERM, 10 s to stop (the pod's grace period, shortened), then removal. */
export async function podmanRemove(name: string): Promise<void> {
  await runCommand(['podman', 'rm', '-f', '-t', '10', name], { timeoutMs: 30_000 });
}

// Linux capability numbers (linux/capability.h), for reading CapEff.
const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE',
  'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE',
  'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

/** The effective capabilities and user of the container's main process, as the kernel has them. */
export async function processCredentials(name: string): Promise<{ capabilities: string[]; uid: number }> {
  const pid = (await runCommand(['podman', 'inspect', '--format', '{{.State.Pid}}', name])).stdout.trim();
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const eff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
  const uid = Number(/^Uid:\s*(\d+)/m.exec(status)?.[1] ?? -1);
  return { capabilities: CAPABILITIES.filter((_, i) => (eff & (1n << BigInt(i))) !== 0n), uid };
}
