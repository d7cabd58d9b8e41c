// The import rule of docs/architecture.md (eslint-layers.js) refuses what the map forbids and
// lets through what it allows, so `make test` fails on a wrong import.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Linter } from 'eslint';
import { KNOWN_EXCEPTIONS, layersPlugin } from '../eslint-layers.js';

function problems(file: string, code: string): string[] {
  const linter = new Linter({ cwd: '/repo' });
  const config = [{ files: ['**/*.ts'], plugins: { vipgate: layersPlugin }, rules: { 'vipgate/layers': 'error' as const } }];
  return linter.verify(code, config, { filename: `/repo/${file}` }).map((m) => m.message);
}

test('a leaf library importing an upper layer is refused, naming the rule', () => {
  assert.deepEqual(problems('src/net/cidr.ts', "import { Agent } from '../agent/agent.ts';"), [
    'src/net may not import src/agent (src/agent/agent.ts): docs/architecture.md allows net → nothing',
  ]);
  assert.equal(problems('src/bgp/wire/update.ts', "export * from '../../kube/index.ts';").length, 1, 'from a sub-folder, and re-exports');
  assert.equal(problems('src/dataplane/xdp/x.ts', "const m = await import('../../controller/index.ts');").length, 1, 'dynamic imports');
});

test('allowed imports, the own layer, packages and the listed exceptions pass', () => {
  assert.deepEqual(problems('src/ipam/allocator.ts', "import { parseIp } from '../net/index.ts';\nimport { x } from './pools.ts';\nimport pino from 'pino';"), []);
  assert.deepEqual(problems('src/cli/main.ts', "import { x } from '../controller/index.ts';"), []);
  // An exception listed for the test (the real list is to be empty): it lets through that file's import only.
  const exception = 'src/kube/resources.ts -> src/ipam/index.ts';
  const exceptions = KNOWN_EXCEPTIONS as Set<string>; // a Set at run time; read-only to the linted code
  const listed = exceptions.has(exception);
  exceptions.add(exception);
  try {
    assert.deepEqual(problems('src/kube/resources.ts', "import { x } from '../ipam/index.ts';"), [], 'a known exception, by file');
    assert.equal(problems('src/kube/clients.ts', "import { x } from '../ipam/index.ts';").length, 1, 'the same import from another file is not excepted');
  } finally {
    if (!listed) exceptions.delete(exception);
  }
  assert.deepEqual(problems('test/anything.test.ts', "import { x } from '../src/agent/agent.ts';"), [], 'tests are outside the layers');
  assert.deepEqual(problems('src/net/errors.ts', "import { VipgateError } from '../errors.ts';"), [], 'the shared error base, from a leaf');
  assert.deepEqual(problems('src/bgp/bfd/errors.ts', "import { VipgateError } from '../../errors.ts';"), [], 'and from a sub-folder');
  assert.deepEqual(problems('src/l2/packet-socket.ts', "import { libc } from '../libc.ts';"), [], 'the shared libc binding');
});
