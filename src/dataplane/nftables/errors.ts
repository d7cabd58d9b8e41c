import { VipgateError } from '../../errors.ts';

/** Stable error codes of the nftables dataplane. Callers match on `code`. */
export const NftErrorCode = {
  /** nft refused a command or transaction; nothing of it was applied (transactions are atomic). */
  commandFailed: 'NFT_COMMAND_FAILED',
  /** libnftables could not be loaded or a context could not be made. */
  ffiUnavailable: 'NFT_FFI_UNAVAILABLE',
  /** The runner was used after close(). */
  closed: 'NFT_RUNNER_CLOSED',
  /** A frontend in the table cannot be rendered (bad address, weight, port...). */
  badFrontend: 'NFT_BAD_FRONTEND',
} as const;
export type NftErrorCode = (typeof NftErrorCode)[keyof typeof NftErrorCode];

export interface NftErrorDetails {
  /** nft's own message, as it printed it. */
  readonly nftMessage?: string;
  /** 1-based line of the submitted text that nft complained about, when it said. */
  readonly line?: number;
  /** That line's text. */
  readonly lineText?: string;
}

export class NftError extends VipgateError<NftErrorCode> {
  override readonly name = 'NftError';
  readonly nftMessage: string | undefined;
  readonly line: number | undefined;
  readonly lineText: string | undefined;
  constructor(
    code: NftErrorCode,
    message: string,
    details: NftErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.nftMessage = details.nftMessage;
    this.line = details.line;
    this.lineText = details.lineText;
  }
}

/**
 * Builds the error for a failed nft run from nft's error output and the text that was sent,
 * naming the first offending line so that a person can see which rule nft refused.
 */
export function commandFailed(nftMessage: string, input: string): NftError {
  // nft prefixes each error with "<source>:<line>:<columns>: Error:"; the source is
  // "/dev/stdin" for the CLI and "<cmdline>" for libnftables buffers.
  const match = /^[^\n:]*:(\d+):[\d-]+: Error/m.exec(nftMessage);
  const line = match === null ? undefined : Number(match[1]);
  const lineText = line === undefined ? undefined : input.split('\n')[line - 1];
  const first = nftMessage.trim().split('\n')[0] ?? '';
  const where = line === undefined ? '' : ` at line ${line}${lineText === undefined ? '' : ` (${truncate(lineText.trim())})`}`;
  // The kernel's refusal names no capability; in a container (the DaemonSet) it is the one missing.
  const hint = /Operation not permitted/i.test(first) ? '; changing nftables needs CAP_NET_ADMIN' : '';
  return new NftError(
    NftErrorCode.commandFailed,
    `nft refused the transaction${where}: ${first}${hint}`,
    {
      nftMessage,
      ...(line === undefined ? {} : { line }),
      ...(lineText === undefined ? {} : { lineText }),
    },
  );
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
