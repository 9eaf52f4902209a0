import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, execute, subscribe } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { serveGraphqlWs } from './ws.js';

const COUNT = 2_000;
const schema = buildSchema('type Query { ok: Boolean } type Subscription { counter(to: Int!): Int! }');
const rootValue = {
  counter: async function* ({ to }: { to: number }) {
    for (let i = 1; i <= to; i++) yield { counter: i };
  },
};

/** A real `ws` server on a free port with serveGraphqlWs on it (keep-alive `keepAliveMs`). */
async function start(keepAliveMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server });
  const served = serveGraphqlWs({ schema, roots: { subscription: rootValue }, execute, subscribe }, wss, { keepAliveMs });
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
});
