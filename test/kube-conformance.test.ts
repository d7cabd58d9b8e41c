// The fake API server replayed against the exchanges recorded from a real kube-apiserver v1.32
// (../shared/kube-conformance/): same status, same error message, reason and details, same
// compared fields. What the fake cannot do is listed by name with the reason, and each listed
// exchange must still differ, so the list shrinks as the fake improves.
import { after, before, describe, test } from 'node:test';
import { loadCorpus, type CorpusFile } from './support/conformance/corpus.ts';
import { replayFile, type ReplayOptions } from './support/conformance/runner.ts';
import { FakeKubeApi } from './support/fake-kube-api/index.ts';

/** Every exchange of the file the fake answers differently today, as pending on `module`. */
function pendingOn(file: CorpusFile, module: string, passing: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ex of loadCorpus(file).exchanges) if (!passing.includes(ex.name) && ex.environmentArtifact === undefined) out[ex.name] = `pending: ${module}`;
  return out;
}

const files: Record<CorpusFile, (api: () => FakeKubeApi) => Omit<ReplayOptions, 'baseUrl'>> = {
  apply: () => ({}),
  leases: () => ({}),
  services: () => ({}),
  events: () => ({}),
  endpointslices: () => ({}),
  watch: (api) => ({
    before: {
      // "etcdctl compact" between watch-bad-rv and list-exact-compacted.
      'list-exact-compacted': () => api().compact(),
      // The apiserver restart between watch-rv-2-in-cache and watch-too-old.
      'watch-too-old': () => api().restart(),
    },
  }),
  'crd-validation': () => ({ knownGaps: pendingOn('crd-validation', 'crd-schema.ts', CRD_VALIDATION_PASSING) }),
  admission: (api) => ({
    knownGaps: pendingOn('admission', 'admission-policy.ts', ADMISSION_PASSING),
    // The recorded restart: the policy's paramKind CRD not found for ~30 s afterwards.
    before: { 'after-apiserver-restart': () => api().restart({ paramKindBlindForMs: 30_000 }) },
  }),
};

// Exchanges of the two files that the placeholder modules already answer as recorded.
const CRD_VALIDATION_PASSING: readonly string[] = ['externalippolicy-valid', 'externalippolicy-put-no-rv', 'externalippolicy-no-status-subresource', 'wrong-kind-in-body'];
const ADMISSION_PASSING: readonly string[] = [
  'policy-status', 'create-namespace-team-b', 'policy-merge-patch-missing', 'policy-create', 'plain-default', 'externalips-not-an-ip', 'alice-no-rbac', 'role-default',
  'rolebinding-default', 'role-team-b', 'rolebinding-team-b', 'alice-externalips-allowed', 'alice-plain-team-b', 'alice-no-rights-kube-system',
  'policy-emptied', 'empty-param-plain',
];

for (const [file, options] of Object.entries(files) as [CorpusFile, (typeof files)[CorpusFile]][]) {
  describe(`${file}.json against the fake API server`, () => {
    let api: FakeKubeApi;
    before(async () => {
      api = new FakeKubeApi();
      await api.start();
    });
    after(async () => api.stop());
    test('replay', async (t) => {
      await replayFile(t, file, { baseUrl: api.url, applyFirst: true, ...options(() => api) });
    });
  });
}
