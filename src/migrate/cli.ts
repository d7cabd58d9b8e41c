/**
 * `vipgate migrate external-ips`: reads Services (a file, or stdin with `-f -`) and prints the
 * plan; with `--apply`, reads them from the API and patches each one (src/migrate/apply.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { applyExternalIPsMigration, formatApplyOutcome, formatApplySummary, type MigrationApi } from './apply.ts';
import { MigrateError } from './errors.ts';
import { formatMigrationPlan, MigrationFormats, type MigrationFormat } from './format.ts';
import { servicesFromText } from './input.ts';
import { planExternalIPsMigration, type MigrationOptions } from './plan.ts';

export interface MigrateFlags {
  readonly file?: string;
  readonly loadBalancerClass?: string;
  readonly nodePorts?: boolean;
  readonly output?: string;
  readonly apply?: boolean;
  readonly kubeconfig?: string;
}

/** The text printed for this input; throws MigrateError for input that is not Services. */
export function runMigrateExternalIPs(flags: MigrateFlags, input: string): string {
  const services = servicesFromText(input, flags.file === '-' || flags.file === undefined ? 'stdin' : flags.file);
  const steps = planExternalIPsMigration(services, planOptions(flags));
  return formatMigrationPlan(steps, (flags.output ?? 'yaml') as MigrationFormat);
}

function planOptions(flags: MigrateFlags): MigrationOptions {
  return {
    ...(flags.loadBalancerClass === undefined ? {} : { loadBalancerClass: flags.loadBalancerClass }),
    ...(flags.nodePorts === true ? { allocateNodePorts: true } : {}),
  };
}

/** Why these flags can't work together, or undefined. */
export function migrateFlagsProblem(flags: MigrateFlags, outputGiven: boolean): string | undefined {
  if (flags.apply === true) {
    if (flags.file !== undefined) return '--apply reads the Services from the API; leave out -f (or drop --apply to print the plan for a file)';
    if (outputGiven) return '--apply prints what it did; -o is for printing the plan without --apply';
    return undefined;
  }
  if (flags.kubeconfig !== undefined) return '--kubeconfig is used with --apply only';
  if (flags.file === undefined) return 'give -f FILE (- for stdin) to print the plan, or --apply to change the Services through the API';
  return undefined;
}

/** The kubeconfig as kubectl finds it: the flag, $KUBECONFIG (first entry), ~/.kube/config, else the pod's service account. */
export function kubeconfigFor(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { kubeconfig: string } | { inCluster: true } {
  if (flag !== undefined) return { kubeconfig: flag };
  const fromEnv = (env['KUBECONFIG'] ?? '').split(':').find((p) => p !== '');
  if (fromEnv !== undefined) return { kubeconfig: fromEnv };
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? { kubeconfig: home } : { inCluster: true };
}

/** `--apply`: patches through the API, printing per Service; 1 when any Service failed. */
export async function runMigrateApply(api: MigrationApi, flags: MigrateFlags, write: (text: string) => void): Promise<number> {
  const outcomes = await applyExternalIPsMigration(api, { ...planOptions(flags), onOutcome: (o) => write(formatApplyOutcome(o)) });
  write(formatApplySummary(outcomes));
  return outcomes.some((o) => o.result === 'failed') ? 1 : 0;
}

async function applyFromCli(flags: MigrateFlags): Promise<number> {
  // Loaded on demand: printing a plan needs no Kubernetes client.
  const { createKubeClients, KubeError } = await import('../kube/index.ts');
  let api: MigrationApi;
  try {
    api = createKubeClients(kubeconfigFor(flags.kubeconfig));
  } catch (error) {
    if (!(error instanceof KubeError)) throw error;
    process.stderr.write(`vipgate migrate external-ips: ${error.message}\n`);
    return 2;
  }
  try {
    return await runMigrateApply(api, flags, (t) => process.stdout.write(t));
  } catch (error) {
    // Listing the Services failed: nothing was changed.
    process.stderr.write(`vipgate migrate external-ips: listing Services failed, nothing changed: ${(error as Error).message}\n`);
    return 1;
  }
}

/** Adds `migrate external-ips` to the program; exit status 2 for unreadable or bad input. */
export function migrateCommand(program: Command): Command {
  const migrate = program.command('migrate').description('move Services off deprecated or unsafe fields');
  migrate
    .command('external-ips')
    .description(
      'plan moving each ClusterIP+externalIPs Service to type: LoadBalancer with the same address (nothing moves):\n' +
        '  kubectl get services -A -o yaml | vipgate migrate external-ips -f -\n' +
        'or do it through the API:\n' +
        '  vipgate migrate external-ips --apply [--kubeconfig FILE]',
    )
    .option('-f, --file <file>', 'Services as YAML or JSON (a List, or --- separated); - for stdin')
    .option('--apply', 'read the Services from the API and patch each one (resourceVersion precondition, conflicts re-read)')
    .option('--kubeconfig <file>', 'with --apply: the cluster (default: $KUBECONFIG, ~/.kube/config, else in-cluster)')
    .option('--load-balancer-class <class>', 'also set spec.loadBalancerClass (when vipgate is not the default)')
    .option('--node-ports', 'let the Services get node ports (needed when LB nodes use backends: nodePort)')
    .addOption(new Option('-o, --output <format>', 'yaml: merge patches; kubectl: a shell script of kubectl patch').choices([...MigrationFormats]).default('yaml'))
    .action(async (flags: MigrateFlags, command: Command) => {
      const problem = migrateFlagsProblem(flags, command.getOptionValueSource('output') === 'cli');
      if (problem !== undefined) {
        process.stderr.write(`vipgate migrate external-ips: ${problem}\n`);
        process.exitCode = 2;
        return;
      }
      if (flags.apply === true) {
        process.exitCode = await applyFromCli(flags);
        return;
      }
      const file = flags.file ?? '-';
      let input: string;
      try {
        input = readFileSync(file === '-' ? 0 : file, 'utf8');
      } catch (err) {
        process.stderr.write(`vipgate migrate external-ips: cannot read ${file}: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      try {
        process.stdout.write(runMigrateExternalIPs(flags, input));
      } catch (err) {
        if (!(err instanceof MigrateError)) throw err;
        process.stderr.write(`vipgate migrate external-ips: ${err.message}\n`);
        process.exitCode = 2;
      }
    });
  return migrate;
}
