// The fake API server replayed against the exchanges recorded from a real kube-apiserver v1.32
// (../shared/kube-conformance/): same status, same error message, reason and details, same
// compared fields. What the fake cannot do is listed by name with the reason, and each listed
// exchange must still differ, so the list shrinks as the fake improves.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CorpusFile } from './support/conformance/corpus.ts';
import { replayFile, type ReplayOptions } from './support/conformance/runner.ts';
import { FakeKubeApi } from './support/fake-kube-api/index.ts';

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
  'crd-validation': () => ({
    knownGaps: {
      // test/kube-conformance-crd.test.ts checks its code, reason and the message without that part.
      'externalippolicy-unknown-field-strict': 'the PATCH strict-decoding message embeds the stored object with its managedFields; the fake keeps no field ownership (server-side apply is a merge patch here)',
    },
  }),
  admission: (api) => ({
    // The recorded restart: the policy's paramKind CRD not found for ~30 s afterwards.
    before: { 'after-apiserver-restart': () => api().restart({ paramKindBlindForMs: 30_000 }) },
  }),
};

for (const [file, options] of Object.entries(files) as [CorpusFile, (typeof files)[CorpusFile]][]) {
  describe(`${file}.json against the fake API server`, () => {
    let api: FakeKubeApi;
    before(async () => {
      api = new FakeKubeApi();
      await api.start();
    });
    after(async () => api.stop());
    test('replay', async (t) => {
      const opts = options(() => api);
      const summary = await replayFile(t, file, { baseUrl: api.url, applyFirst: true, ...opts });
      // Every exchange was judged, and only the listed gaps (and the README's excuses) differ.
      assert.equal(summary.matched.length + summary.gaps.length + summary.excused.length + summary.failed.length, summary.total);
      assert.deepEqual(summary.failed, [], `${file}.json: answered differently from the real server`);
      assert.deepEqual([...summary.gaps].sort(), Object.keys(opts.knownGaps ?? {}).sort());
    });
  });
}
