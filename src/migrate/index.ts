export { planExternalIPsMigration, type MigrateStep, type MigrationOptions, type MigrationStep, type ServiceMergePatch, type SkipStep } from './plan.ts';
export { formatMigrationPlan, MigrationFormats, type MigrationFormat } from './format.ts';
export { servicesFromText } from './input.ts';
export { kubeconfigFor, migrateCommand, migrateFlagsProblem, runMigrateApply, runMigrateExternalIPs, type MigrateFlags } from './cli.ts';
export { applyExternalIPsMigration, formatApplyOutcome, formatApplySummary, type ApiService, type ApplyOptions, type ApplyOutcome, type MigrationApi } from './apply.ts';
export { MigrateError, MigrateErrorCode, SkipReason } from './errors.ts';
export type { MigratableService } from './service.ts';
