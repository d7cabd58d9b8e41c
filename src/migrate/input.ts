import { parseAllDocuments } from 'yaml';
import { MigrateError, MigrateErrorCode } from './errors.ts';
import type { MigratableService } from './service.ts';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Services from `kubectl get services -A -o yaml` (a List), `-o json`, or documents separated
 * by `---`. Objects of other kinds are ignored, so a whole `kubectl get all` dump works too.
 */
export function servicesFromText(text: string, source: string): MigratableService[] {
  const docs = parseAllDocuments(text);
  const out: MigratableService[] = [];
  const visit = (value: unknown, where: string): void => {
    if (value === null || value === undefined) return;
    if (!isRecord(value)) throw new MigrateError(MigrateErrorCode.badInput, `${where}: expected a Kubernetes object, got ${JSON.stringify(value).slice(0, 40)}`);
    if (Array.isArray(value.items)) {
      value.items.forEach((item, i) => visit(item, `${where}.items[${i}]`));
      return;
    }
    if (value.kind !== 'Service') return;
    const metadata = value.metadata;
    if (!isRecord(metadata) || typeof metadata.name !== 'string') {
      throw new MigrateError(MigrateErrorCode.badInput, `${where}: a Service without metadata.name`);
    }
    const spec = value.spec;
    if (spec !== undefined && (!isRecord(spec) || (spec.externalIPs !== undefined && !Array.isArray(spec.externalIPs)))) {
      throw new MigrateError(MigrateErrorCode.badInput, `${where}: ${metadata.name}: spec.externalIPs must be a list`);
    }
    out.push(value as unknown as MigratableService);
  };
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      throw new MigrateError(MigrateErrorCode.badInput, `${source}: document ${i + 1}: ${doc.errors[0]?.message ?? 'not YAML'}`);
    }
    visit(doc.toJS(), `${source}: document ${i + 1}`);
  });
  return out;
}
