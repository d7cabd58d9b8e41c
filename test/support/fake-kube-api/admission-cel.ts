// A ValidatingAdmissionPolicy's expressions, compiled once per policy spec and evaluated the way
// kube-apiserver 1.32's validating.validator does: matchConditions first (any false: the policy
// does not apply; errors: failurePolicy), then every validation with its message, then the audit
// annotations. `variables` are lazy and evaluated at most once per evaluation, as in the
// apiserver's composition environment. Not modelled: the runtime cost budget.
import type { Environment } from '@marcbachmann/cel-js';
import { admissionCel, toCel } from './cel-k8s.ts';
import { isObject, str, type Json, type JsonObject } from './json.ts';

export interface Decision {
  readonly action: 'admit' | 'deny';
  readonly message: string;
  /** Undefined for evaluation errors (the dispatcher answers those with Invalid, 422). */
  readonly reason?: string;
}

export interface Evaluation {
  readonly decisions: readonly Decision[];
  /** Audit annotations that failed to evaluate under failurePolicy Fail: denials whatever the validationActions. */
  readonly auditErrors: readonly string[];
}

export interface Inputs {
  readonly object: Json;
  readonly oldObject: Json;
  readonly params: Json;
  readonly request: Json;
  readonly namespaceObject: Json;
}

type Program = { readonly expression: string; readonly error: string } | { readonly expression: string; readonly run: (ctx: Record<string, unknown>) => unknown };

interface Validation {
  readonly program: Program;
  readonly message: string;
  readonly messageExpression: Program | undefined;
  readonly reason: string | undefined;
}

interface CompiledPolicy {
  readonly matchConditions: readonly Program[];
  readonly variables: readonly { readonly name: string; readonly program: Program }[];
  readonly validations: readonly Validation[];
  readonly auditAnnotations: readonly Program[];
}

// Go's errors read in lower case ("no such key: x"); cel-js capitalises some.
const goStyle = (s: string): string => (/^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s);

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // cel-js errors carry the bare message in `summary`; `message` adds the source excerpt.
  const summary = (e as Error & { summary?: unknown }).summary;
  if (typeof summary === 'string' && summary !== '') return goStyle(summary);
  return goStyle(e.message.split('\n')[0] ?? e.message);
}

let environment: Environment | undefined;
const env = (): Environment => (environment ??= admissionCel());

/** Compiles with Kubernetes' return-type rule; dyn is accepted where cel-js cannot infer what cel-go would. */
function compile(expression: string, returns: 'bool' | 'string' | 'any'): Program {
  try {
    const parsed = env().parse(expression);
    const checked = parsed.check();
    if (!checked.valid) return { expression, error: `compilation failed: ${errorText(checked.error)}` };
    if (returns !== 'any' && checked.type !== returns && checked.type !== 'dyn') return { expression, error: `must evaluate to ${returns}` };
    return { expression, run: (ctx) => parsed(ctx) as unknown };
  } catch (e) {
    return { expression, error: `compilation failed: ${errorText(e)}` };
  }
}

const cache = new Map<string, CompiledPolicy>();

function compilePolicy(spec: JsonObject): CompiledPolicy {
  const key = JSON.stringify(spec);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const list = (field: string): JsonObject[] => (Array.isArray(spec[field]) ? spec[field].filter(isObject) : []);
  const compiled: CompiledPolicy = {
    matchConditions: list('matchConditions').map((c) => compile(str(c['expression']) ?? '', 'bool')),
    variables: list('variables').map((v) => ({ name: str(v['name']) ?? '', program: compile(str(v['expression']) ?? '', 'any') })),
    validations: list('validations').map((v) => {
      const messageExpression = str(v['messageExpression']);
      return {
        program: compile(str(v['expression']) ?? '', 'bool'),
        message: str(v['message']) ?? '',
        messageExpression: messageExpression === undefined || messageExpression === '' ? undefined : compile(messageExpression, 'string'),
        reason: str(v['reason']),
      };
    }),
    auditAnnotations: list('auditAnnotations').map((a) => compile(str(a['valueExpression']) ?? '', 'any')),
  };
  cache.set(key, compiled);
  return compiled;
}

type Outcome = { readonly value: unknown } | { readonly error: string };

function run(program: Program, ctx: Record<string, unknown>): Outcome {
  if ('error' in program) return { error: `compilation error: ${program.error}` };
  try {
    return { value: program.run(ctx) };
  } catch (e) {
    return { error: `expression '${program.expression}' resulted in error: ${errorText(e)}` };
  }
}

/** The activation: inputs as CEL values plus `variables`, each computed on first use and kept. */
function activation(compiled: CompiledPolicy, inputs: Inputs): Record<string, unknown> {
  const ctx: Record<string, unknown> = {
    object: toCel(inputs.object),
    oldObject: toCel(inputs.oldObject),
    params: toCel(inputs.params),
    request: toCel(inputs.request),
    namespaceObject: toCel(inputs.namespaceObject),
  };
  const variables: Record<string, unknown> = {};
  for (const { name, program } of compiled.variables) {
    let memo: { value: unknown } | { error: string } | undefined;
    Object.defineProperty(variables, name, {
      enumerable: true,
      get() {
        memo ??= evaluateVariable(name, program, ctx);
        if ('error' in memo) throw new Error(memo.error);
        return memo.value;
      },
    });
  }
  ctx['variables'] = variables;
  return ctx;
}

function evaluateVariable(name: string, program: Program, ctx: Record<string, unknown>): { value: unknown } | { error: string } {
  if ('error' in program) return { error: `composited variable "${name}" fails to compile: ${program.error}` };
  try {
    return { value: program.run(ctx) };
  } catch (e) {
    return { error: `composited variable "${name}" fails to evaluate: ${errorText(e)}` };
  }
}

const MAX_MESSAGE_BYTES = 5 * 1024;

/** messageExpression's string when usable, else message, else "failed expression: …". */
function denialMessage(v: Validation, ctx: Record<string, unknown>): string {
  if (v.messageExpression !== undefined) {
    const out = run(v.messageExpression, ctx);
    if ('value' in out && typeof out.value === 'string') {
      const m = out.value.trim();
      if (m !== '' && Buffer.byteLength(m) <= MAX_MESSAGE_BYTES && !m.includes('\n')) return m;
    }
  }
  if (v.message.trim() !== '') return v.message.trim();
  return `failed expression: ${v.program.expression.trim()}`;
}

function celTypeName(v: unknown): string {
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'map' : typeof v;
}

export function evaluatePolicy(spec: JsonObject, inputs: Inputs): Evaluation {
  const compiled = compilePolicy(spec);
  const fail = spec['failurePolicy'] !== 'Ignore';
  const onError: Decision['action'] = fail ? 'deny' : 'admit';
  // matchConditions: every condition runs; a false one wins over errors in the others. The
  // apiserver's matcher evaluates them without the namespace, so namespaceObject is null there.
  const conditionCtx = activation(compiled, { ...inputs, namespaceObject: null });
  const errors: string[] = [];
  for (const condition of compiled.matchConditions) {
    const out = run(condition, conditionCtx);
    if ('error' in out) errors.push(out.error);
    else if (out.value === false) return { decisions: [], auditErrors: [] };
  }
  if (errors.length > 0) {
    if (!fail) return { decisions: [], auditErrors: [] };
    // utilerrors.NewAggregate: one error as itself, several as "[a, b]".
    return { decisions: [{ action: 'deny', message: errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]` }], auditErrors: [] };
  }

  const ctx = activation(compiled, inputs);
  const decisions = compiled.validations.map((v): Decision => {
    const out = run(v.program, ctx);
    if ('error' in out) return { action: onError, message: out.error };
    if (out.value === true) return { action: 'admit', message: '' };
    return { action: 'deny', message: denialMessage(v, ctx), reason: v.reason ?? 'Invalid' };
  });

  const auditErrors: string[] = [];
  for (const program of compiled.auditAnnotations) {
    const out = run(program, ctx);
    if ('error' in out) {
      if (fail) auditErrors.push(out.error);
    } else if (typeof out.value !== 'string' && out.value !== null) {
      auditErrors.push(`valueExpression '${program.expression}' resulted in unsupported return type: ${celTypeName(out.value)}. Return type must be either string or null.`);
    }
  }
  return { decisions, auditErrors };
}


/**
 * The compile errors of a policy's expressions as "spec.field[i].expression: error": what
 * kube-apiserver refuses the policy for at create time, as far as cel-js checks the same things.
 */
export function compileErrors(spec: JsonObject): string[] {
  const c = compilePolicy(spec);
  const out: string[] = [];
  const note = (path: string, p: Program | undefined): void => {
    if (p !== undefined && 'error' in p) out.push(`${path}: ${p.error}`);
  };
  c.matchConditions.forEach((p, i) => note(`spec.matchConditions[${i}].expression`, p));
  c.variables.forEach((v, i) => note(`spec.variables[${i}].expression`, v.program));
  c.validations.forEach((v, i) => {
    note(`spec.validations[${i}].expression`, v.program);
    note(`spec.validations[${i}].messageExpression`, v.messageExpression);
  });
  c.auditAnnotations.forEach((p, i) => note(`spec.auditAnnotations[${i}].valueExpression`, p));
  return out;
}
