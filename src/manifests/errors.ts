import { VipgateError } from '../errors.ts';

/**
 * Stable error codes for rendering the install. Callers (the CLI) match on `code`; the
 * message names the option, the bad value and what is allowed.
 */
export const ManifestsErrorCode = {
  /** An option has a value Kubernetes would refuse (bad name, image, port, label or taint). */
  badOption: 'MANIFESTS_BAD_OPTION',
} as const;
export type ManifestsErrorCode = (typeof ManifestsErrorCode)[keyof typeof ManifestsErrorCode];

export class ManifestsError extends VipgateError<ManifestsErrorCode> {
  override readonly name = 'ManifestsError';
  constructor(
    code: ManifestsErrorCode,
    message: string,
    /** The option concerned, as the CLI spells it (`--namespace`). */
    readonly option: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
  }
}
