import { VipgateError } from '../errors.ts';

/** Stable codes of a ConfigError as a whole. Callers (the agent, the CLI) match on `code`. */
export const ConfigErrorCode = {
  /** The file could not be read (missing, permissions). */
  unreadable: 'CONFIG_UNREADABLE',
  /** The text is not well-formed YAML; issues carry the parser's positions. */
  syntax: 'CONFIG_SYNTAX',
  /** Well-formed YAML that breaks the schema or a rule across fields. */
  invalid: 'CONFIG_INVALID',
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

/** What kind of problem one issue is; tests and tools match on it, people read the message. */
export const ConfigIssueCode = {
  syntax: 'syntax',
  unreadable: 'unreadable',
  unknownField: 'unknown-field',
  missingField: 'missing-field',
  wrongType: 'wrong-type',
  badValue: 'bad-value',
  duplicate: 'duplicate',
  /** A name that refers to nothing (a service's `pool`, a backend's port name). */
  badReference: 'bad-reference',
  /** Fields that are fine alone but contradict each other. */
  conflict: 'conflict',
} as const;
export type ConfigIssueCode = (typeof ConfigIssueCode)[keyof typeof ConfigIssueCode];

/** One problem in a config file, with where it is and what would be accepted instead. */
export interface ConfigIssue {
  readonly code: ConfigIssueCode;
  readonly file: string;
  /** 1-based; 0 when the problem has no position (the file could not be read). */
  readonly line: number;
  /** 1-based; 0 when the problem has no position. */
  readonly column: number;
  /** Field path like `services[1].ports[0].port`; empty for the document as a whole. */
  readonly path: string;
  /** The offending value as found in the file (undefined when the field is missing). */
  readonly value: unknown;
  /** What is wrong, e.g. `70000 is not allowed`. */
  readonly message: string;
  /** What would be accepted, e.g. `an integer 1–65535`; empty when nothing sensible to say. */
  readonly allowed: string;
  /** An extra nudge, e.g. "did you mean `addresses`?". */
  readonly hint?: string;
}

/** `file:line:column: path: message; expected allowed; hint`, one line per issue. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  let text = `${where}: `;
  if (issue.path !== '') text += `${issue.path}: `;
  text += issue.message;
  if (issue.allowed !== '') text += `; expected ${issue.allowed}`;
  if (issue.hint !== undefined) text += `; ${issue.hint}`;
  return text;
}

/**
 * A config file that can't be used, with every problem found in it (not just the first), so
 * one edit can fix them all. `vipgate agent` exits with status 2 on it at start; on a reload
 * the last good config keeps serving.
 */
export class ConfigError extends VipgateError<ConfigErrorCode> {
  override readonly name = 'ConfigError';
  constructor(
    code: ConfigErrorCode,
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
    options?: ErrorOptions,
  ) {
    super(code, summary(file, issues) + '\n' + issues.map(formatIssue).join('\n'), options);
  }

  /** The issues as lines, in file order: `lb1.yaml:14:13: services[1].ports[0].port: …`. */
  format(): string {
    return this.issues.map(formatIssue).join('\n');
  }
}

function summary(file: string, issues: readonly ConfigIssue[]): string {
  return issues.length === 1 ? `${file}: 1 problem` : `${file}: ${issues.length} problems`;
}

/** Shows a value the way it would be written in the file, kept short. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}
