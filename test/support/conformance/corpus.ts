// The recorded exchanges of a real kube-apiserver v1.32 (../shared/kube-conformance/, read-only,
// beside the repository): their shape, and where to find them from a clone or a CI checkout.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface RecordedRequest {
  readonly method: string;
  /** With its query; may hold placeholders (`<rv>`, `<compacted-rv>`, `name<suffix>`). */
  readonly path: string;
  readonly headers: { readonly accept?: string; readonly 'content-type'?: string };
  /** Absent: admin (system:masters); otherwise `alice`, who has only the RBAC the exchanges grant. */
  readonly user?: string;
  /** A JSON patch is an array; a deliberately broken body is a string. */
  readonly body?: Json;
}

export interface RecordedEvent {
  readonly type: string;
  readonly object: JsonObject;
  readonly afterSeconds?: number;
}

export interface RecordedResponse {
  readonly status: number;
  readonly headers?: { readonly warning?: readonly string[]; readonly 'content-type'?: string };
  readonly body?: Json;
  readonly events?: readonly RecordedEvent[];
  readonly streamEnded?: boolean | string;
}

export interface Exchange {
  readonly name: string;
  readonly description: string;
  readonly request: RecordedRequest;
  readonly response: RecordedResponse;
  /** Paths relative to the response to compare on success (`body.spec`, `body.items[*].metadata.name`). */
  readonly compare?: readonly string[];
  readonly watch?: boolean;
  readonly duringWatch?: boolean;
  readonly messageNormalized?: boolean;
  readonly causesOrder?: string;
  readonly environmentArtifact?: string | boolean;
  readonly timingDependent?: string | boolean;
  readonly note?: string;
}

export interface Corpus {
  readonly title: string;
  readonly description: string;
  readonly setup: string;
  readonly notes?: readonly string[];
  readonly exchanges: readonly Exchange[];
}

export const CORPUS_FILES = ['apply', 'leases', 'admission', 'crd-validation', 'services', 'endpointslices', 'events', 'watch'] as const;
export type CorpusFile = (typeof CORPUS_FILES)[number];

/**
 * The folder of the recordings: `VIPGATE_KUBE_CONFORMANCE` if set, else `shared/kube-conformance`
 * beside the repository (where both a developer's tree and CI's clone find it).
 */
export function corpusDir(): string {
  const fromEnv = process.env['VIPGATE_KUBE_CONFORMANCE'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const candidate = join(repo, '..', 'shared', 'kube-conformance');
  if (!existsSync(candidate)) {
    throw new Error(`the recorded kube-apiserver exchanges are not at ${candidate}; set VIPGATE_KUBE_CONFORMANCE to their folder`);
  }
  return candidate;
}

export function loadCorpus(file: CorpusFile): Corpus {
  return JSON.parse(readFileSync(join(corpusDir(), `${file}.json`), 'utf8')) as Corpus;
}
