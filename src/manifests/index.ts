export { renderManifests, manifestsToYaml, MANIFESTS_HEADER, type KubeObject } from './render.ts';
export { defaultManifestOptions, resolveManifestOptions, TaintEffects, type LbToleration, type ManifestOptions, type TaintEffect } from './options.ts';
export { ManifestsError, ManifestsErrorCode } from './errors.ts';
export { externalIPsCel, EXTERNAL_IPS_POLICY } from './admission.ts';
