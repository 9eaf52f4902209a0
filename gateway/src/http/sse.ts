import type { ExecutionResult } from 'graphql';
import { getSSEProcessor, isAsyncIterable, type Plugin } from 'graphql-yoga';

type FetchApi = { TextEncoder: typeof TextEncoder; ReadableStream: typeof ReadableStream; Response: typeof Response };
type ResultProcessor = (result: unknown, fetchAPI: FetchApi, acceptedMediaType: string) => unknown;

const TURN = Symbol('turn');
/** Resolves after the current turn of the event loop (I/O and timers included). */
const nextTurn = (): Promise<typeof TURN> => new Promise((r) => setImmediate(r, TURN));

/** One SSE frame's data text per result object: results shared by many subscribers are serialised once. */
const serialised = new WeakMap<object, string>();

/** An error as the client sees it: message, locations, path and extensions without the server's internals. */
function publicError(e: unknown): unknown {
  const json = (e as { toJSON?: () => unknown }).toJSON?.() ?? { message: (e as Error).message };
  const ext = (json as { extensions?: Record<string, unknown> }).extensions;
  if (!ext) return json;
  const { http: _http, unexpected: _unexpected, ...rest } = ext;
  return { ...(json as object), extensions: Object.keys(rest).length ? rest : undefined };
}

/** The JSON of one result (cached per result object when it has no errors). */
export function resultJson(result: ExecutionResult): string {
  if (result.errors?.length) return JSON.stringify({ ...result, errors: result.errors.map(publicError) });
  let text = serialised.get(result);
  if (text === undefined) serialised.set(result, (text = JSON.stringify(result)));
  return text;
}

/** Frames larger than this end a batch early (the rest goes in the next write). */
const MAX_BATCH_CHARS = 1 << 20;

/**
 * Server-sent events for subscriptions, writing every result that is ready in one turn of the
 * event loop as one chunk (one socket write instead of three per event), with each result's JSON
 * made once however many subscribers receive it. Same wire format as graphql-yoga's own SSE
 * transport (`event: next` / `event: complete`, a comment line first and every 12 s); single
 * results (queries sent with `accept: text/event-stream`) still go through yoga's processor.
 */
export function batchedSseProcessor(pingIntervalMs = 12_000): ResultProcessor {
  const single = getSSEProcessor() as unknown as ResultProcessor;
  return (result, fetchAPI, acceptedMediaType) => {
    if (!isAsyncIterable(result)) return single(result, fetchAPI, acceptedMediaType);
    const iterator = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
    const encoder = new fetchAPI.TextEncoder();
    let pending: Promise<IteratorResult<ExecutionResult>> | undefined;
    let ping: NodeJS.Timeout | undefined;
    const stream = new fetchAPI.ReadableStream<Uint8Array>({
      start(controller) {
        // A comment first: some clients wait for a first byte before they report the response.
        controller.enqueue(encoder.encode(':\n\n'));
        ping = setInterval(() => {
          if (controller.desiredSize === null) clearInterval(ping);
          else if (controller.desiredSize > 0) controller.enqueue(encoder.encode(':\n\n'));
        }, pingIntervalMs);
      },
      async pull(controller) {
        let text = '';
        let done = false;
        try {
          let r = await (pending ?? iterator.next());
          pending = undefined;
          for (;;) {
            if (r.done) {
              done = true;
              break;
            }
            text += `event: next\ndata: ${resultJson(r.value)}\n\n`;
            if (text.length >= MAX_BATCH_CHARS) break;
            // Whatever else is ready within this turn goes into the same write.
            const next = iterator.next();
            const ready = await Promise.race([next, nextTurn()]);
            if (ready === TURN) {
              pending = next;
              break;
            }
            r = ready;
          }
        } catch (err) {
          clearInterval(ping);
          if (text) controller.enqueue(encoder.encode(text));
          controller.error(err);
          return;
        }
        if (done) text += 'event: complete\ndata:\n\n';
        if (text) controller.enqueue(encoder.encode(text));
        if (done) {
          clearInterval(ping);
          controller.close();
        }
      },
      cancel() {
        clearInterval(ping);
        void iterator.return?.()?.catch(() => undefined);
      },
    });
    return new fetchAPI.Response(stream, {
      status: 200,
      headers: { 'Content-Type': 'text/event-stream', Connection: 'keep-alive', 'Cache-Control': 'no-cache', 'Content-Encoding': 'none' },
    });
  };
}

/** Puts {@link batchedSseProcessor} in place of yoga's SSE transport for subscriptions. */
export function batchedSsePlugin(): Plugin {
  const processor = batchedSseProcessor();
  return {
    onResultProcess({ request, result, setResultProcessor }) {
      if (!isAsyncIterable(result)) return;
      if (!/\btext\/event-stream\b/.test(request.headers.get('accept') ?? '')) return;
      setResultProcessor(processor as never, 'text/event-stream');
    },
  };
}
