import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { resultJson } from '../events/result-json.js';
import { batchedSseProcessor } from './sse.js';

const fetchAPI = { TextEncoder, ReadableStream, Response };
type Processor = (r: unknown, f: typeof fetchAPI, m: string) => Response;

/** Reads a response body: its chunks as text and the SSE frames in them. */
async function read(res: Response): Promise<{ chunks: string[]; frames: Array<{ event?: string; data: string }> }> {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(decoder.decode(c));
  const frames = chunks
    .join('')
    .split('\n\n')
    .filter((f) => f && !f.startsWith(':'))
    .map((f) => {
      const lines = f.split('\n');
      return { event: lines.find((l) => l.startsWith('event:'))?.slice(6).trim(), data: lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('') };
    });
  return { chunks, frames };
}

describe('batched SSE transport for subscriptions', () => {
  it('writes every result ready in one turn as one chunk, in order, then complete', async () => {
    const results: ExecutionResult[] = Array.from({ length: 500 }, (_, i) => ({ data: { n: i } }));
    async function* ready() {
      for (const r of results) yield r;
    }
    const res = (batchedSseProcessor() as Processor)(ready(), fetchAPI, 'text/event-stream');
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const { chunks, frames } = await read(res);
    assert.deepEqual(frames.slice(0, -1).map((f) => JSON.parse(f.data).data.n), results.map((_, i) => i), 'every result once, in order');
    assert.ok(frames.slice(0, -1).every((f) => f.event === 'next'));
    assert.deepEqual(frames.at(-1), { event: 'complete', data: '' });
    // 500 results and the first comment: yoga's transport writes three chunks per result (1,501).
    assert.ok(chunks.length <= 5, `${chunks.length} chunks for 500 ready results`);
  });

  it('does not hold a result back waiting for more: each is sent in the turn it arrives', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow() {
      yield { data: { n: 1 } };
      await gate;
      yield { data: { n: 2 } };
    }
    const res = (batchedSseProcessor() as Processor)(slow(), fetchAPI, 'text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    while (!seen.includes('"n":1')) seen += decoder.decode((await reader.read()).value);
    assert.ok(!seen.includes('"n":2'), 'the first result arrived before the second existed');
    release();
    while (!seen.includes('event: complete')) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    assert.match(seen, /"n":2[\s\S]*event: complete/);
  });

  it('serialises a shared result once and keeps error codes without server internals', () => {
    const shared: ExecutionResult = { data: { x: 'y' } };
    assert.equal(resultJson(shared), resultJson(shared));
    assert.equal(resultJson(shared), '{"data":{"x":"y"}}');
    const failed: ExecutionResult = { errors: [new GraphQLError('too slow', { extensions: { code: 'SUBSCRIPTION_TOO_SLOW', http: { status: 500 }, unexpected: true } })] };
    const parsed = JSON.parse(resultJson(failed));
    assert.deepEqual(parsed.errors[0], { message: 'too slow', extensions: { code: 'SUBSCRIPTION_TOO_SLOW' } });
  });

  it('stops its source when the client goes away', async () => {
    let returned = false;
    const source: AsyncIterableIterator<ExecutionResult> = {
      next: () => new Promise<IteratorResult<ExecutionResult>>(() => undefined),
      return: async () => {
        returned = true;
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const res = (batchedSseProcessor() as Processor)(source, fetchAPI, 'text/event-stream');
    const reader = res.body!.getReader();
    await reader.read(); // the opening comment
    await reader.cancel();
    assert.equal(returned, true);
  });
});
