import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { isAlias, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { applyDefaults } from './defaults.ts';
import { ConfigError, ConfigErrorCode, ConfigIssueCode, type ConfigIssue } from './errors.ts';
import { fastPlainData } from './fast-yaml.ts';
import { placeIssue, type IssueDraft } from './issue.ts';
import { configValidator, schemaIssues } from './schema.ts';
import { semanticIssues } from './semantic.ts';
import type { AgentConfig } from './types.ts';

export interface ParseOptions {
  /** The default `nodeName`; the machine's host name unless given (tests pin it). */
  readonly hostname?: string;
}

/**
 * Parses and validates a config file's text. Throws ConfigError listing every problem found
 * (syntax errors alone if the YAML is malformed, else schema and cross-field problems
 * together), each with `fileName:line:column` and the field path.
 */
export function parseConfig(text: string, fileName: string, options: ParseOptions = {}): AgentConfig {
  return parseValidFast(text, options) ?? parseDocumentConfig(text, fileName, options);
}

/**
 * The config when the file is valid and the fast reader takes it (src/config/fast-yaml.ts);
 * undefined otherwise. Valid files, the common case, take this way; any problem is found again
 * and placed on the document path, so the errors are the same either way.
 */
export function parseValidFast(text: string, options: ParseOptions = {}): AgentConfig | undefined {
  const fast = fastPlainData(text);
  if (fast === undefined || fast.data === null || fast.data === undefined) return undefined;
  const validate = configValidator();
  if (!validate(fast.data) || semanticIssues(fast.data).length > 0) return undefined;
  return applyDefaults(fast.data, options.hostname ?? osHostname());
}

/** The document path: slower, but every node keeps its place in the file for the errors. */
export function parseDocumentConfig(text: string, fileName: string, options: ParseOptions = {}): AgentConfig {
  const lines = new LineCounter();
  // YAML 1.2 core schema: `no`, `on`, `0755` are not booleans or octal surprises.
  const doc = parseDocument(text, { lineCounter: lines, version: '1.2', uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((err): ConfigIssue => {
      const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
      return {
        code: ConfigIssueCode.syntax,
        file: fileName,
        line: Math.max(pos.line, 1),
        column: Math.max(pos.col, 1),
        path: '',
        value: undefined,
        // The yaml package appends a source excerpt after the first line; the position says as much.
        message: (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, ''),
        allowed: '',
      };
    });
    throw new ConfigError(ConfigErrorCode.syntax, fileName, issues);
  }
  const data = toPlainData(doc, lines, fileName);
  if (data === null || data === undefined) {
    throw new ConfigError(ConfigErrorCode.invalid, fileName, [
      {
        code: ConfigIssueCode.wrongType,
        file: fileName,
        line: 1,
        column: 1,
        path: '',
        value: data,
        message: 'the file is empty',
        allowed: 'a mapping with at least apiVersion: vipgate.io/v1alpha1 and kind: AgentConfig',
      },
    ]);
  }
  const validate = configValidator();
  const valid = validate(data);
  const drafts: IssueDraft[] = [...(valid ? [] : schemaIssues(validate.errors ?? [])), ...semanticIssues(data)];
  if (!valid || drafts.length > 0) {
    const issues = drafts
      .map((d) => placeIssue(d, fileName, doc, lines))
      .sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(ConfigErrorCode.invalid, fileName, issues);
  }
  return applyDefaults(data, options.hostname ?? osHostname());
}

/**
 * The document as plain data. Aliases are resolved only here, so an alias to no anchor, or one
 * that expands past a sane size (a "billion laughs" file), is reported as a syntax problem.
 */
function toPlainData(doc: Document, lines: LineCounter, fileName: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    let offset = 0;
    visit(doc, {
      Alias(_key, node) {
        if (isAlias(node) && node.resolve(doc) === undefined) {
          offset = node.range?.[0] ?? 0;
          return visit.BREAK;
        }
        return undefined;
      },
    });
    const pos = lines.linePos(offset);
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      ConfigErrorCode.syntax,
      fileName,
      [
        {
          code: ConfigIssueCode.syntax,
          file: fileName,
          line: Math.max(pos.line, 1),
          column: Math.max(pos.col, 1),
          path: '',
          value: undefined,
          message,
          allowed: 'aliases that name an earlier anchor, expanding to at most 100 nodes',
        },
      ],
      { cause: err },
    );
  }
}

/** Reads and parses a config file; an unreadable file is a ConfigError too (code CONFIG_UNREADABLE). */
export async function loadConfigFile(path: string, options: ParseOptions = {}): Promise<AgentConfig> {
  return parseConfig(await readConfigText(path), path, options);
}

/** The file's text, or a ConfigError that says why it can't be read. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    throw new ConfigError(
      ConfigErrorCode.unreadable,
      path,
      [
        {
          code: ConfigIssueCode.unreadable,
          file: path,
          line: 0,
          column: 0,
          path: '',
          value: undefined,
          message: `cannot read the file (${reason})`,
          allowed: 'a readable YAML file',
        },
      ],
      { cause: err },
    );
  }
}
