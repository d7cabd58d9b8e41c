import { causeOption, VipgateError } from '../errors.ts';

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

export class KubeError extends VipgateError<KubeErrorCode> {
  override readonly name = 'KubeError';
  constructor(
    code: KubeErrorCode,
    message: string,
    readonly details: { readonly status?: number; readonly field?: string; readonly cause?: unknown } = {},
  ) {
    super(code, message, causeOption(details.cause));
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

/** What the API server said when it refused a request: its HTTP status, reason and verbatim message. */
export interface Refusal {
  readonly status: number;
  readonly reason?: string;
  readonly message: string;
}

/**
 * The server's own words from a refused request, whichever client made it: the client
 * library's ApiException (status in `code`) or our raw path's ApiStatusError (status in
 * `statusCode`), both with the server's Status object as JSON text in `body`. Undefined
 * for errors that are not answers (a refused connection, a timeout).
 */
export function refusalOf(error: unknown): Refusal | undefined {
  const status = statusOf(error);
  if (status === undefined || typeof error !== 'object' || error === null) return undefined;
  const { body, message } = error as { body?: unknown; message?: unknown };
  let parsed: { message?: unknown; reason?: unknown } | undefined;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body) as { message?: unknown; reason?: unknown };
    } catch {
      parsed = undefined;
    }
  } else if (typeof body === 'object' && body !== null) parsed = body;
  const text = typeof parsed?.message === 'string' ? parsed.message : typeof message === 'string' ? message : `HTTP ${status}`;
  return { status, ...(typeof parsed?.reason === 'string' ? { reason: parsed.reason } : {}), message: text };
}
