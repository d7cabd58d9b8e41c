/**
 * The one shape of vipgate's errors. Each module keeps its own `errors.ts`: its stable codes (an
 * `as const` object and the union of its values) and a thin subclass of `VipgateError` that
 * names itself and adds the fields its callers need (the IPAM pool, the config file's issues,
 * BGP's NOTIFICATION subcode and data). Callers match on `code`; the message is for a person.
 */
export abstract class VipgateError<C extends string | number = string> extends Error {
  /** The subclass's own name (`IpamError`), as a literal, so logs and stack traces say which module threw. */
  abstract override readonly name: string;

  constructor(
    /** Stable: callers match on it. A module's string code, or a protocol's number (BGP NOTIFICATION). */
    readonly code: C,
    message: string,
    /** Handed to `Error` as given: `{ cause }` sets `cause`, nothing leaves it unset. */
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** `{ cause }` for a cause carried in a details object, or nothing when there is none (then `cause` stays unset). */
export function causeOption(cause: unknown): ErrorOptions | undefined {
  return cause === undefined ? undefined : { cause };
}
