export { FakeKubeApi, type InjectedFailure, type RequestRecord } from './server.ts';
export { ApiError } from './store.ts';
export type { Json, JsonObject } from './json.ts';
