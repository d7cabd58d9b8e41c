// The fake API server replayed against the exchanges recorded from a real kube-apiserver v1.32
// (../shared/kube-conformance/): same status, same error message, reason and details, same
// compared fields. What the fake cannot do is listed by name with the reason, and each listed
// exchange must still differ, so the list shrinks as the fake improves.
import { after, before, describe, test } from 'node:test';
import { CORPUS_FILES } from './support/conformance/corpus.ts';
import { replayFile } from './support/conformance/runner.ts';
import { FakeKubeApi } from './support/fake-kube-api/index.ts';

for (const file of CORPUS_FILES) {
  describe(`${file}.json against the fake API server`, () => {
    let api: FakeKubeApi;
    before(async () => {
      api = new FakeKubeApi();
      await api.start();
    });
    after(async () => api.stop());
    test('replay', async (t) => {
      await replayFile(t, file, { baseUrl: api.url, applyFirst: true });
    });
  });
}
