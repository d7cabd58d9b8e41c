// vipgate's version is package.json's: one place to bump. The bundle inlines it (esbuild), tsx
// reads the file; either way the CLI's --version, the manifests' default image and the image
// `make image` builds (scripts/build-image.sh) agree.
import packageJson from '../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;
