// Sends recorded requests to a server under test over HTTP and collects its answers (watches
// streamed line by line, with the exchanges marked `duringWatch` sent while the watch is open),
// then compares them with the recording. Used by test/kube-conformance-*.test.ts.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { loadCorpus, type CorpusFile, type Exchange, type Json, type JsonObject, type RecordedEvent } from './corpus.ts';
import { compareExchange, generatedNamesIn, normalize, ReplayState, userToken, type ReplayResult } from './replay.ts';

export interface ReplayOptions {
  /** The server under test. */
  readonly baseUrl: string;
  /**
   * Exchanges the server under test is known not to reproduce, by name, with the reason. Each
   * must still differ from the recording: a gap that closed fails the test until it is removed.
   */
  readonly knownGaps?: Readonly<Record<string, string>>;
  /** Steps the recording took outside the API (a compaction, a restart), before the named exchange. */
  readonly before?: Readonly<Record<string, () => void | Promise<void>>>;
  /** Run before every file but `apply`: replay apply.json (the recorded `kubectl apply` of the manifests). */
  readonly applyFirst?: boolean;
}

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

async function send(baseUrl: string, state: ReplayState, ex: Exchange): Promise<ReplayResult> {
  const path = state.fillPath(ex.request.path, ex.description);
  const body = state.fillBody(ex.request.path, ex.request.method, ex.request.body);
  const headers: Record<string, string> = { accept: ex.request.headers.accept ?? 'application/json', authorization: `Bearer ${userToken(ex.request.user)}` };
  const contentType = ex.request.headers['content-type'];
  if (contentType !== undefined) headers['content-type'] = contentType;
  const init: RequestInit = { method: ex.request.method, headers };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(baseUrl + path, init);
  const warning = res.headers.get('warning');
  const out: { status: number; headers: ReplayResult['headers']; body?: Json; events?: RecordedEvent[] } = {
    status: res.status,
    headers: {
      ...(warning === null ? {} : { warning: warning.split(/,\s*(?=\d{3} )/) }),
      ...(res.headers.get('content-type') === null ? {} : { 'content-type': res.headers.get('content-type')!.split(';')[0]! }),
    },
  };
  const text = await res.text();
  if (text !== '') {
    try {
      out.body = JSON.parse(text) as Json;
    } catch {
      out.body = text;
    }
  }
  return out;
}

/**
 * Opens a watch; resolves once the server has answered the request (the watch is established),
 * with a promise of its events until the server ends the stream (bounded by timeoutSeconds + 10 s).
 */
async function watch(baseUrl: string, state: ReplayState, ex: Exchange): Promise<{ result: Promise<ReplayResult> }> {
  const path = state.fillPath(ex.request.path, ex.description);
  const timeout = Number(new URL(path, 'http://x').searchParams.get('timeoutSeconds') ?? '10');
  const started = Date.now();
  const abort = AbortSignal.timeout((timeout + 10) * 1000);
  const res = await fetch(baseUrl + path, { headers: { accept: 'application/json', authorization: `Bearer ${userToken(ex.request.user)}` }, signal: abort });
  return { result: collect(res, abort, started) };
}

async function collect(res: Response, abort: AbortSignal, started: number): Promise<ReplayResult> {
  const events: RecordedEvent[] = [];
  if (res.status !== 200 || res.body === null) {
    const text = await res.text();
    return { status: res.status, headers: {}, ...(text === '' ? {} : { body: JSON.parse(text) as Json }) };
  }
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line === '') continue;
        const e = JSON.parse(line) as { type: string; object: JsonObject };
        events.push({ type: e.type, object: e.object, afterSeconds: (Date.now() - started) / 1000 });
      }
    }
  } catch (error) {
    if (!abort.aborted) throw error;
    events.push({ type: '(stream not ended by the server)', object: {} });
  }
  return { status: res.status, headers: { 'content-type': res.headers.get('content-type')?.split(';')[0] ?? '' }, events };
}

function label(ex: Exchange, index: number): string {
  return `${String(index).padStart(2, '0')} ${ex.name}`;
}

/** How a file's replay went, exchange by exchange (a caller checks that none went unjudged). */
export interface ReplaySummary {
  readonly total: number;
  /** Answered as recorded. */
  readonly matched: readonly string[];
  /** Listed as known gaps, and still different. */
  readonly gaps: readonly string[];
  /** environmentArtifact (skipped) or timingDependent and different (optional). */
  readonly excused: readonly string[];
  /** Different from the recording and not excused: each is also a failed subtest. */
  readonly failed: readonly string[];
}

/**
 * Replays one recorded file as subtests of `t`, in order. Exchanges marked environmentArtifact
 * are skipped, as the README says; timingDependent ones are run and reported but may differ.
 */
export async function replayFile(t: TestContext, file: CorpusFile, options: ReplayOptions): Promise<ReplaySummary> {
  const summary = { matched: [] as string[], gaps: [] as string[], excused: [] as string[], failed: [] as string[] };
  const state = new ReplayState();
  const generated = new Map<string, string>();
  if (options.applyFirst === true && file !== 'apply') {
    // The recording's starting point: the manifests applied. Their answers are another test's.
    for (const ex of loadCorpus('apply').exchanges) {
      const r = await send(options.baseUrl, state, ex);
      state.observe(state.fillPath(ex.request.path), ex.request.method, r);
    }
  }
  const corpus = loadCorpus(file);
  const gaps = new Map(Object.entries(options.knownGaps ?? {}));
  const unknownGaps = [...gaps.keys()].filter((name) => !corpus.exchanges.some((e) => e.name === name));
  assert.deepEqual(unknownGaps, [], `known gaps name exchanges that ${file}.json does not have`);
  let openWatch: { ex: Exchange; index: number; result: Promise<ReplayResult> } | undefined;

  const judge = async (ex: Exchange, index: number, result: ReplayResult): Promise<void> => {
    generatedNamesIn((result.body ?? null), generated);
    for (const e of result.events ?? []) generatedNamesIn(e.object, generated);
    const requestMeta = isObject(ex.request.body) && isObject(ex.request.body['metadata']) ? ex.request.body['metadata'] : {};
    const prefixes = typeof requestMeta['generateName'] === 'string' ? [requestMeta['generateName']] : [];
    const normalized: ReplayResult = {
      ...result,
      ...(result.body === undefined ? {} : { body: normalize(result.body, generated, '', prefixes) }),
      ...(result.events === undefined ? {} : { events: result.events.map((e) => ({ ...e, object: normalize(e.object, generated) as JsonObject })) }),
    };
    const diffs = compareExchange(ex, normalized);
    const gap = gaps.get(ex.name);
    if (ex.environmentArtifact !== undefined || (ex.timingDependent !== undefined && diffs.length > 0)) summary.excused.push(ex.name);
    else if (gap !== undefined) (diffs.length > 0 ? summary.gaps : summary.failed).push(ex.name);
    else (diffs.length === 0 ? summary.matched : summary.failed).push(ex.name);
    await t.test(label(ex, index), { skip: ex.environmentArtifact !== undefined ? `environment artifact: ${String(ex.environmentArtifact)}` : false }, () => {
      if (gap !== undefined) {
        assert.notDeepEqual(diffs, [], `${ex.name} now matches the recording: remove it from the known gaps ("${gap}")`);
        return;
      }
      if (ex.timingDependent !== undefined && diffs.length > 0) return; // a race the recording saw once; optional
      assert.deepEqual(diffs, [], `${ex.name}: ${ex.description}`);
    });
  };

  for (const [index, ex] of corpus.exchanges.entries()) {
    await options.before?.[ex.name]?.();
    if (ex.environmentArtifact !== undefined) {
      await judge(ex, index, { status: ex.response.status, headers: {} });
      continue;
    }
    if (openWatch !== undefined && ex.duringWatch !== true) {
      const w = openWatch;
      openWatch = undefined;
      await judge(w.ex, w.index, await w.result);
    }
    if (ex.watch === true) {
      // Established (the server answered the request) before the writes it should see.
      const { result } = await watch(options.baseUrl, state, ex);
      const next = corpus.exchanges[index + 1];
      if (next?.duringWatch === true) {
        openWatch = { ex, index, result };
        continue;
      }
      await judge(ex, index, await result);
      continue;
    }
    const result = await send(options.baseUrl, state, ex);
    state.observe(state.fillPath(ex.request.path), ex.request.method, result);
    await judge(ex, index, result);
  }
  if (openWatch !== undefined) await judge(openWatch.ex, openWatch.index, await openWatch.result);
  return { total: corpus.exchanges.length, ...summary };
}
