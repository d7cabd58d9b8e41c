/** Stable error codes of the Kubernetes layer; callers match on `code`. */
export const KubeErrorCode = {
  /** No kubeconfig could be loaded (file missing or unreadable, or not running in a cluster). */
  config: 'KUBE_CONFIG',
  /** A VIPPool (or other vipgate resource) is malformed: names the field and what is allowed. */
  badResource: 'KUBE_BAD_RESOURCE',
  /** The API server refused a request (status code in `status`). */
  api: 'KUBE_API',
} as const;
export type KubeErrorCode = (typeof KubeErrorCode)[keyof typeof KubeErrorCode];

export class KubeError extends Error {
  override readonly name = 'KubeError';
  constructor(
    readonly code: KubeErrorCode,
    message: string,
    readonly details: { readonly status?: number; readonly field?: string; readonly cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }
}

/**
 * The HTTP status of a refused request, if any: the client library's ApiException has it in
 * `code`, our own KubeError (whose `code` is the stable error code) in `statusCode`.
 */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  return typeof statusCode === 'number' ? statusCode : undefined;
}
