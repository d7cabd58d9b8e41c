// The import rules of docs/architecture.md, enforced: a file under src/<layer>/ may import only
// its own layer and the layers listed for it. Known exceptions would be listed by file and
// target; the list is empty (issue "One clear house"), and no new one may appear.
import { dirname, join, normalize, relative } from 'node:path';

/** layer → the layers it may import (besides itself). `*`: anything. */
export const ALLOWED = {
  net: [],
  model: ['net'],
  ipam: ['net', 'model'],
  bgp: ['net', 'model'],
  dataplane: ['net', 'model'],
  host: ['net', 'model'],
  l2: ['net', 'model'],
  kube: ['net', 'model'],
  'kube-model': ['net', 'model', 'ipam', 'kube'],
  config: ['net', 'model', 'ipam'],
  manifests: ['net', 'model', 'kube-model'],
  sources: ['net', 'model', 'ipam', 'kube', 'kube-model', 'config'],
  agent: ['net', 'model', 'ipam', 'bgp', 'dataplane', 'host', 'l2', 'config', 'kube', 'kube-model', 'sources', 'api'],
  api: ['net', 'model', 'bgp', 'dataplane'],
  controller: ['net', 'model', 'ipam', 'kube', 'kube-model'],
  migrate: ['net', 'model', 'kube', 'kube-model'],
  cli: ['*'],
};

/** `importing file -> imported file`, both relative to the repository. */
export const KNOWN_EXCEPTIONS = new Set([]);

/**
 * Files at the top of src/ that any layer may import (facts about the build, the error base every
 * layer extends, and the one binding of libc that the socket code of several layers shares).
 */
const SHARED = new Set(['src/errors.ts', 'src/libc.ts', 'src/project-root.ts', 'src/version.ts']);

export const layersPlugin = {
  rules: {
    layers: {
      meta: { type: 'problem', docs: { description: 'imports follow docs/architecture.md' }, schema: [] },
      create(context) {
        const root = context.cwd;
        const file = relative(root, context.filename);
        const parts = file.split('/');
        if (parts[0] !== 'src' || parts.length < 3) return {};
        const layer = parts[1];
        const allowed = ALLOWED[layer];
        const check = (node, spec) => {
          if (typeof spec !== 'string' || !spec.startsWith('.')) return;
          const target = normalize(join(dirname(file), spec));
          const t = target.split('/');
          if (t[0] !== 'src' || SHARED.has(target)) return;
          const to = t.length >= 3 ? t[1] : t.slice(1).join('/');
          if (to === layer || allowed === undefined || allowed.includes('*') || allowed.includes(to)) return;
          if (KNOWN_EXCEPTIONS.has(`${file} -> ${target}`)) return;
          context.report({
            node,
            message: `src/${layer} may not import src/${to} (${target}): docs/architecture.md allows ${layer} → ${allowed.length === 0 ? 'nothing' : allowed.join(', ')}`,
          });
        };
        return {
          ImportDeclaration: (node) => check(node.source, node.source.value),
          ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
          ExportAllDeclaration: (node) => check(node.source, node.source.value),
          ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
        };
      },
    },
  },
};
