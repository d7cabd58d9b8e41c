import { stringify } from 'yaml';
import type { MigrateStep, MigrationStep } from './plan.ts';

export const MigrationFormats = ['yaml', 'kubectl'] as const;
export type MigrationFormat = (typeof MigrationFormats)[number];

// Kubernetes names and IP addresses hold no quote, but a Service read from a file might.
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function kubectlPatch(step: MigrateStep): string {
  return `kubectl --namespace ${shellQuote(step.namespace)} patch service ${shellQuote(step.name)} --type merge --patch ${shellQuote(JSON.stringify(step.patch))}`;
}

function headline(step: MigrateStep): string {
  return `${step.namespace}/${step.name}: ${step.fromType} with externalIPs ${step.addresses.join(', ')} -> type: LoadBalancer requesting ${step.addresses.join(', ')}`;
}

function summary(steps: readonly MigrationStep[]): string[] {
  const migrate = steps.filter((s) => s.action === 'migrate').length;
  const lines = [`# vipgate migrate external-ips: ${migrate} Service${migrate === 1 ? '' : 's'} to change, ${steps.length - migrate} skipped.`];
  for (const s of steps) if (s.action === 'skip') lines.push(`# skipped ${s.namespace}/${s.name}: ${s.message}`);
  return lines;
}

/**
 * The plan for a person: `yaml` gives one merge patch per document, each headed by what
 * changes and the `kubectl patch` line that applies it; `kubectl` gives a shell script of those
 * lines (`… -o kubectl | sh`). Skipped Services are listed, with why, as comments in both.
 */
export function formatMigrationPlan(steps: readonly MigrationStep[], format: MigrationFormat = 'yaml'): string {
  const lines = summary(steps);
  const migrate = steps.filter((s): s is MigrateStep => s.action === 'migrate');
  if (format === 'kubectl') {
    if (migrate.length > 0) lines.splice(0, 0, '#!/bin/sh', 'set -e');
    for (const step of migrate) {
      lines.push(`# ${headline(step)}`, ...step.notes.map((n) => `#   ${n}`), kubectlPatch(step));
    }
    return `${lines.join('\n')}\n`;
  }
  let out = `${lines.join('\n')}\n`;
  for (const step of migrate) {
    const comments = [headline(step), ...step.notes.map((n) => `  ${n}`), `apply: ${kubectlPatch(step)}`].map((l) => `# ${l}\n`).join('');
    out += `---\n${comments}${stringify(step.patch, { lineWidth: 0 })}`;
  }
  return out;
}
