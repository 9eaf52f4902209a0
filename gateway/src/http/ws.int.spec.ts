import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, execute, parse, subscribe, type ExecutionResult } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import { createClient } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { serveGraphqlWs } from './ws.js';
import { ResultText } from '../events/result-json.js';

const COUNT = 2_000;
const schema = buildSchema('type Query { ok: Boolean } type Subscription { counter(to: Int!): Int! blobs(sizes: [Int!]!): String! }');
/** A text of `size` characters, the first two bytes long in UTF-8 (a frame's length counts bytes). */
const blob = (size: number): string => Array.from({ length: size }, (_, i) => (i === 0 ? 'é' : String.fromCharCode(97 + (i % 26)))).join('');
const queryRoot = { ok: true };
const rootValue = {
  counter: async function* ({ to }: { to: number }) {
    for (let i = 1; i <= to; i++) {
      // Now and then a turn of the event loop, as a real event source has (it waits for I/O).
      if (i % 200 === 0) await new Promise((r) => setImmediate(r));
      yield { counter: i };
    }
  },
  blobs: async function* ({ sizes }: { sizes: number[] }) {
    for (const size of sizes) yield { blobs: blob(size) };
  },
};

/** A real `ws` server on a free port with serveGraphqlWs on it (keep-alive `keepAliveMs`), running plain graphql-js. */
async function start(keepAliveMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server });
  const served = serveGraphqlWs(wss, {
    keepAliveMs,
    onConnect: async () => ({}),
    onOperation: async (_context, payload, sink) => {
      const document = parse(payload.query);
      const args = { schema, document, rootValue, variableValues: payload.variables ?? {} };
      if (!payload.query.trim().startsWith('subscription')) return { kind: 'result', result: (await execute({ ...args, rootValue: queryRoot })) as ExecutionResult };
      const r = await subscribe(args);
      if (!isAsyncIterable(r)) return { kind: 'result', result: r as ExecutionResult };
      let stopped = false;
      void (async () => {
        for await (const x of r) {
          if (stopped) break;
          sink.next(new ResultText(JSON.stringify(x)));
        }
        sink.end();
      })();
      return { kind: 'stream', stop: () => (stopped = true) };
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      await served.dispose();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('graphql-ws transport (batched sends, keep-alive)', () => {
  let gw: Awaited<ReturnType<typeof start>>;
  before(async () => (gw = await start(150)));
  after(async () => gw?.close());

  it('delivers a fast subscription completely and in order, many messages per socket write', async () => {
    let socket: WebSocket | undefined;
    let reads = 0;
    const client = createClient({
      url: gw.url,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      on: {
        connected: (s) => {
          socket = s as WebSocket;
          (socket as unknown as { _socket: NodeJS.EventEmitter })._socket.on('data', () => reads++);
        },
      },
    });
    const got: number[] = [];
    await new Promise<void>((resolve, reject) =>
      client.subscribe<{ counter: number }>({ query: `subscription { counter(to: ${COUNT}) }` }, { next: (v) => got.push(v.data!.counter), error: reject, complete: resolve }),
    );
    await client.dispose();
    assert.deepEqual(got, Array.from({ length: COUNT }, (_, i) => i + 1));
    assert.ok(socket);
    // One socket write per message would make ~2,000 reads on the client; corked sends make a few.
    assert.ok(reads < COUNT / 10, `${reads} socket reads for ${COUNT} messages`);
  });

  it('frames messages of every length class (7-bit, 16-bit, 64-bit lengths, multi-byte text) that a ws client reads intact', async () => {
    // Whole messages (graphql-ws ids are 36 characters) of every byte length around the 125/126
    // and 65,535/65,536 boundaries, then one far past 64 KiB.
    const messageBytes = (n: number) => Buffer.byteLength(JSON.stringify({ id: 'x'.repeat(36), type: 'next', payload: { data: { blobs: blob(n) } } }));
    const around = (boundary: number) => {
      let n = 0;
      while (messageBytes(n) < boundary) n += Math.max(1, boundary - messageBytes(n));
      return Array.from({ length: 9 }, (_, i) => n - 4 + i);
    };
    const sizes = [0, 1, ...around(126), ...around(65_536), 300_000];
    const bytes = sizes.map(messageBytes);
    for (const b of [126, 65_536]) assert.ok(bytes.includes(b - 1) && bytes.includes(b), `messages of ${b - 1} and ${b} bytes: ${bytes.join(' ')}`);
    const client = createClient({ url: gw.url, webSocketImpl: WebSocket, retryAttempts: 0 });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) =>
      client.subscribe<{ blobs: string }>({ query: `subscription { blobs(sizes: ${JSON.stringify(sizes)}) }` }, { next: (v) => got.push(v.data!.blobs), error: reject, complete: resolve }),
    );
    await client.dispose();
    assert.equal(got.length, sizes.length);
    sizes.forEach((size, i) => assert.equal(got[i], blob(size), `message ${i} (${size} characters)`));
  });

  it('closes a connection whose peer stops answering pings, keeps one that answers', async () => {
    const open = (autoPong: boolean) =>
      new Promise<{ ws: WebSocket; closed: Promise<number> }>((resolve, reject) => {
        const ws = new WebSocket(gw.url, 'graphql-transport-ws', { autoPong });
        const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
        ws.once('open', () => {
          ws.send(JSON.stringify({ type: 'connection_init' }));
          resolve({ ws, closed });
        });
        ws.once('error', reject);
      });
    const deaf = await open(false);
    const answering = await open(true);
    const code = await Promise.race([deaf.closed, new Promise<'open'>((r) => setTimeout(() => r('open'), 3_000))]);
    assert.equal(code, 1006, 'the silent peer was cut off (terminated, no close frame)');
    assert.equal(answering.ws.readyState, WebSocket.OPEN, 'the answering peer is still connected');
    answering.ws.close();
    await answering.closed;
  });

  /** A raw protocol client: the messages it receives and how its socket closed. */
  const raw = async (init = true) => {
    const ws = new WebSocket(gw.url, 'graphql-transport-ws');
    const messages: Array<Record<string, unknown>> = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code: number, reason: Buffer) => r({ code, reason: String(reason) })));
    ws.on('message', (d: Buffer) => messages.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    if (init) ws.send(JSON.stringify({ type: 'connection_init' }));
    const waitFor = async (pred: (m: Record<string, unknown>) => boolean) => {
      for (let i = 0; i < 200 && !messages.some(pred); i++) await new Promise((r) => setTimeout(r, 10));
      return messages.find(pred);
    };
    return { ws, messages, closed, waitFor };
  };

  it('speaks graphql-transport-ws: ack, ping/pong, a query as next + complete, a client complete stops a subscription', async () => {
    const c = await raw();
    assert.ok(await c.waitFor((m) => m['type'] === 'connection_ack'));
    c.ws.send(JSON.stringify({ type: 'ping', payload: { t: 1 } }));
    assert.deepEqual(await c.waitFor((m) => m['type'] === 'pong'), { type: 'pong', payload: { t: 1 } });
    c.ws.send(JSON.stringify({ type: 'subscribe', id: 'q1', payload: { query: '{ ok }' } }));
    assert.deepEqual(await c.waitFor((m) => m['id'] === 'q1' && m['type'] === 'next'), { id: 'q1', type: 'next', payload: { data: { ok: true } } });
    assert.ok(await c.waitFor((m) => m['id'] === 'q1' && m['type'] === 'complete'));
    c.ws.send(JSON.stringify({ type: 'subscribe', id: 's1', payload: { query: 'subscription { counter(to: 100000000) }' } }));
    assert.ok(await c.waitFor((m) => m['id'] === 's1' && m['type'] === 'next'));
    c.ws.send(JSON.stringify({ type: 'complete', id: 's1' }));
    await new Promise((r) => setTimeout(r, 100));
    const count = c.messages.length;
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(c.messages.length - count <= 1, 'nothing more after the client completed it');
    c.ws.close();
    await c.closed;
  });

  it('closes with the protocol\'s codes: 4401 subscribe before ack, 4409 duplicate id, 4400 bad message, 4429 second init, 4408 no init', async () => {
    const early = await raw(false);
    early.ws.send(JSON.stringify({ type: 'subscribe', id: 'x', payload: { query: '{ ok }' } }));
    assert.equal((await early.closed).code, 4401);
    const dup = await raw();
    await dup.waitFor((m) => m['type'] === 'connection_ack');
    dup.ws.send(JSON.stringify({ type: 'subscribe', id: 'same', payload: { query: 'subscription { counter(to: 100000000) }' } }));
    dup.ws.send(JSON.stringify({ type: 'subscribe', id: 'same', payload: { query: 'subscription { counter(to: 1) }' } }));
    assert.equal((await dup.closed).code, 4409);
    const bad = await raw();
    bad.ws.send('{"type":"subscribe"}');
    assert.equal((await bad.closed).code, 4400);
    const twice = await raw();
    twice.ws.send(JSON.stringify({ type: 'connection_init' }));
    assert.equal((await twice.closed).code, 4429);
    const silent = await raw(false);
    assert.equal((await silent.closed).code, 4408, 'no connection_init within 3 s');
  });
});
