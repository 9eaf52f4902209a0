import type { Writable } from 'node:stream';
import type { ExecutionResult } from 'graphql';
import { getSSEProcessor, isAsyncIterable, type Plugin } from 'graphql-yoga';
import { resultJson, sseNextFrame as frame, type ResultText } from '../events/result-json.js';
import { SUBSCRIPTION_SINK, type SubscriptionSink } from '../events/shared-subscriptions.js';
import { assemble, writeAssembled } from './chunks.js';

type FetchApi = { TextEncoder: typeof TextEncoder; ReadableStream: typeof ReadableStream; Response: typeof Response };
type ResultProcessor = (result: unknown, fetchAPI: FetchApi, acceptedMediaType: string) => unknown;

const TURN = Symbol('turn');
/** Resolves after the current turn of the event loop (I/O and timers included). */
const nextTurn = (): Promise<typeof TURN> => new Promise((r) => setImmediate(r, TURN));

/** Frames larger than this end a batch early (the rest goes in the next write). */
const MAX_BATCH_CHARS = 1 << 20;
const HEADERS = { 'Content-Type': 'text/event-stream', Connection: 'keep-alive', 'Cache-Control': 'no-cache', 'Content-Encoding': 'none' };
const COMPLETE = 'event: complete\ndata:\n\n';

const COMPLETE_BYTES = Buffer.from(COMPLETE);

/**
 * The SSE side of a shared subscription: results arrive here synchronously (no promise per result)
 * as frames already encoded once for every SSE subscriber of the subscription, and are written
 * straight to the HTTP response, everything queued in one write (the shared frames go to the
 * socket as they are or copied together, never re-encoded or copied again by a stream in between).
 */
export class SseSink implements SubscriptionSink {
  private frames: Buffer[] = [];
  private ended = false;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Set when a shared subscription attached this sink (the response then reads from it). */
  attached = false;

  /** `out`: the HTTP response; `flushMs`: results are written at most this often (0: as they come). */
  constructor(
    private readonly out: Writable,
    private readonly flushMs = 0,
  ) {}

  next(result: ResultText): void {
    if (this.ended) return;
    this.push(result.sseFrame);
    this.notify();
  }

  end(errors?: string): void {
    if (this.ended) return;
    if (errors) this.push(Buffer.from(frame(`{"errors":${errors}}`)));
    this.push(COMPLETE_BYTES);
    this.ended = true;
    this.notify();
  }

  /** Results not yet written: none while it is waiting for more (held for the flush interval only); all while the response's buffer is full. */
  get backlog(): number {
    return this.wake ? 0 : this.frames.length;
  }

  /**
   * Writes what is queued to the response as it comes, waiting while nothing is and while the
   * response's buffer is full; returns once the end has been written or the response has closed.
   */
  async pump(): Promise<void> {
    const out = this.out;
    let closed = out.destroyed || out.writableEnded;
    const onClose = () => {
      closed = true;
      this.wakeUp();
    };
    out.once('close', onClose);
    try {
      for (;;) {
        while (this.frames.length === 0 && !this.ended && !closed) await new Promise<void>((r) => (this.wake = r));
        if (closed) return;
        const frames = this.frames;
        const ended = this.ended;
        this.frames = [];
        writeAssembled(out, assemble(frames));
        if (ended) return;
        if (out.writableNeedDrain) await drainedOrClosed(out);
      }
    } finally {
      out.off('close', onClose);
    }
  }

  private push(frame: Buffer): void {
    this.frames.push(frame);
  }

  private notify(): void {
    if (this.flushMs > 0 && !this.ended) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.wakeUp();
      }, this.flushMs);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Resolves once `out` has room again (or has closed). */
function drainedOrClosed(out: Writable): Promise<void> {
  return new Promise<void>((resolve) => {
    const go = () => {
      out.off('drain', go);
      out.off('close', go);
      resolve();
    };
    out.once('drain', go);
    out.once('close', go);
  });
}

/**
 * The response of a subscription whose sink writes to the HTTP response itself: the stream only
 * opens it (a comment first, then one every `pingIntervalMs`) and closes it once the sink is done.
 */
function sseSinkResponse(fetchAPI: FetchApi, pingIntervalMs: number, sink: SseSink, cancel: () => void): Response {
  const encoder = new fetchAPI.TextEncoder();
  let ping: NodeJS.Timeout | undefined;
  let pumping = false;
  const stream = new fetchAPI.ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(':\n\n'));
      ping = setInterval(() => {
        if (controller.desiredSize === null) clearInterval(ping);
        else controller.enqueue(encoder.encode(':\n\n'));
      }, pingIntervalMs);
    },
    async pull(controller) {
      // Called once: the sink writes until the subscription ends or the client goes away.
      if (pumping) return;
      pumping = true;
      try {
        await sink.pump();
      } finally {
        clearInterval(ping);
        cancel();
        controller.close();
      }
    },
    cancel() {
      clearInterval(ping);
      cancel();
    },
  });
  return new fetchAPI.Response(stream, { status: 200, headers: HEADERS });
}

function sseResponse(fetchAPI: FetchApi, pingIntervalMs: number, pull: () => Promise<{ text: string; done: boolean }>, cancel: () => void): Response {
  const encoder = new fetchAPI.TextEncoder();
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
      let r: { text: string; done: boolean };
      try {
        r = await pull();
      } catch (err) {
        clearInterval(ping);
        controller.error(err);
        return;
      }
      if (r.text) controller.enqueue(encoder.encode(r.text));
      if (r.done) {
        clearInterval(ping);
        controller.close();
      }
    },
    cancel() {
      clearInterval(ping);
      cancel();
    },
  });
  return new fetchAPI.Response(stream, { status: 200, headers: HEADERS });
}

/**
 * Server-sent events for subscriptions: every result that is ready in one turn of the event loop
 * goes out as one chunk (one socket write instead of three per event), each result's JSON made
 * once however many subscribers receive it. With `sink` (a shared subscription writing into it)
 * the stream reads the sink; otherwise it reads the result iterator. Same wire format as
 * graphql-yoga's own SSE transport (`event: next` / `event: complete`, a comment line first and
 * every 12 s); single results (queries sent with `accept: text/event-stream`) still go through
 * yoga's processor.
 */
export function batchedSseProcessor(pingIntervalMs = 12_000, sink?: SseSink): ResultProcessor {
  const single = getSSEProcessor() as unknown as ResultProcessor;
  return (result, fetchAPI, acceptedMediaType) => {
    if (!isAsyncIterable(result)) return single(result, fetchAPI, acceptedMediaType);
    const iterator = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
    const stop = () => void iterator.return?.()?.catch(() => undefined);
    if (sink?.attached) return sseSinkResponse(fetchAPI, pingIntervalMs, sink, stop);
    let pending: Promise<IteratorResult<ExecutionResult>> | undefined;
    const pull = async (): Promise<{ text: string; done: boolean }> => {
      let text = '';
      let r = await (pending ?? iterator.next());
      pending = undefined;
      for (;;) {
        if (r.done) return { text: text + COMPLETE, done: true };
        text += frame(resultJson(r.value));
        if (text.length >= MAX_BATCH_CHARS) return { text, done: false };
        // Whatever else is ready within this turn goes into the same write.
        const next = iterator.next();
        const ready = await Promise.race([next, nextTurn()]);
        if (ready === TURN) {
          pending = next;
          return { text, done: false };
        }
        r = ready;
      }
    };
    return sseResponse(fetchAPI, pingIntervalMs, pull, stop);
  };
}

/** The key under which the HTTP handler gives each SSE request's sink to yoga's server context. */
export const SSE_SINK = 'sseSink';

/** Whether a request's `accept` header asks for server-sent events. */
export const wantsSse = (accept: string | null | undefined): boolean => /\btext\/event-stream\b/.test(accept ?? '');

/**
 * Puts {@link batchedSseProcessor} in place of yoga's SSE transport for subscriptions, and offers
 * the request's {@link SseSink} (from the server context) to shared subscriptions.
 */
export function batchedSsePlugin(): Plugin {
  const plain = batchedSseProcessor();
  return {
    onSubscribe({ args, extendContext }) {
      const ctx = args.contextValue as { request?: Request; [SSE_SINK]?: SseSink };
      if (ctx[SSE_SINK] && ctx.request && wantsSse(ctx.request.headers.get('accept'))) {
        ctx[SSE_SINK].attached = true;
        extendContext({ [SUBSCRIPTION_SINK]: ctx[SSE_SINK] } as never);
      }
    },
    onResultProcess({ request, result, setResultProcessor, serverContext }) {
      if (!isAsyncIterable(result) || !wantsSse(request.headers.get('accept'))) return;
      const sink = (serverContext as { [SSE_SINK]?: SseSink } | undefined)?.[SSE_SINK];
      setResultProcessor((sink?.attached ? batchedSseProcessor(12_000, sink) : plain) as never, 'text/event-stream');
    },
  };
}
