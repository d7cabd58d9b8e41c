/**
 * `vipgate migrate external-ips`: reads Services (a file, or stdin with `-f -`), prints the
 * plan. `--apply` needs the Kubernetes client, which lives in src/kube; until it is wired,
 * pipe `-o kubectl` into `sh`.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { MigrateError } from './errors.ts';
import { formatMigrationPlan, MigrationFormats, type MigrationFormat } from './format.ts';
import { servicesFromText } from './input.ts';
import { planExternalIPsMigration } from './plan.ts';

export interface MigrateFlags {
  readonly file: string;
  readonly loadBalancerClass?: string;
  readonly output?: string;
}

/** The text printed for this input; throws MigrateError for input that is not Services. */
export function runMigrateExternalIPs(flags: MigrateFlags, input: string): string {
  const services = servicesFromText(input, flags.file === '-' ? 'stdin' : flags.file);
  const steps = planExternalIPsMigration(services, flags.loadBalancerClass === undefined ? {} : { loadBalancerClass: flags.loadBalancerClass });
  return formatMigrationPlan(steps, (flags.output ?? 'yaml') as MigrationFormat);
}

/** Adds `migrate external-ips` to the program; exit status 2 for unreadable or bad input. */
export function migrateCommand(program: Command): Command {
  const migrate = program.command('migrate').description('move Services off deprecated or unsafe fields');
  migrate
    .command('external-ips')
    .description(
      'plan moving each ClusterIP+externalIPs Service to type: LoadBalancer with the same address (nothing moves):\n' +
        '  kubectl get services -A -o yaml | vipgate migrate external-ips -f -',
    )
    .requiredOption('-f, --file <file>', 'Services as YAML or JSON (a List, or --- separated); - for stdin')
    .option('--load-balancer-class <class>', 'also set spec.loadBalancerClass (when vipgate is not the default)')
    .addOption(new Option('-o, --output <format>', 'yaml: merge patches; kubectl: a shell script of kubectl patch').choices([...MigrationFormats]).default('yaml'))
    .action((flags: MigrateFlags) => {
      let input: string;
      try {
        input = readFileSync(flags.file === '-' ? 0 : flags.file, 'utf8');
      } catch (err) {
        process.stderr.write(`vipgate migrate external-ips: cannot read ${flags.file}: ${(err as Error).message}\n`);
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
