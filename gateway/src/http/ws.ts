import type { IncomingMessage } from 'node:http';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { WebSocket as WsSocket, WebSocketServer as WsServer } from 'ws';

type WebSocket = InstanceType<typeof WsSocket>;
type WebSocketServer = InstanceType<typeof WsServer>;

/** Bytes queued on one socket beyond which a send waits until the peer has taken them. */
export const WS_SEND_HIGH_WATER_BYTES = 1 << 20;

export interface GraphqlWsOptions {
  /** Ping interval; a socket that sends nothing back for this long after a ping is closed. */
  keepAliveMs?: number;
  /** Internal errors (a failing message handler); the socket is closed with 1011 either way. */
  onError?: (err: unknown) => void;
}

/**
 * graphql-ws (`graphql-transport-ws`) on a `ws` server, as graphql-ws's own `useServer` but:
 * - messages sent within one turn of the event loop leave in one socket write (the socket is
 *   corked at the first and uncorked on the next turn), and a send does not wait for the write to
 *   finish unless more than {@link WS_SEND_HIGH_WATER_BYTES} are queued — so a subscription's
 *   results flow at the rate the peer reads them, not one write round trip at a time;
 * - keep-alive counts any pong or message from the peer as alive, and a socket whose outgoing
 *   queue is still draining is never closed for a late pong (a busy gateway answers pings late;
 *   a dead peer shows as a send error instead). A peer that reads too slowly ends up with
 *   SUBSCRIPTION_TOO_SLOW from the subscription queue, never with a silent close.
 */
export function serveGraphqlWs<E extends Record<PropertyKey, unknown>>(options: ServerOptions<Record<string, unknown>, E & { socket: WebSocket; request: IncomingMessage }>, wss: WebSocketServer, opts: GraphqlWsOptions = {}): { dispose(): Promise<void> } {
  const keepAliveMs = opts.keepAliveMs ?? 12_000;
  const server = makeServer(options as ServerOptions<Record<string, unknown>, never>);
  wss.options.handleProtocols = handleProtocols;
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const raw = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    let corked = false;
    let alive = true;
    const uncork = () => {
      corked = false;
      raw?.uncork();
    };
    socket.once('error', (err: Error) => {
      opts.onError?.(err);
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    socket.on('pong', () => (alive = true));
    const pinger =
      keepAliveMs > 0 && Number.isFinite(keepAliveMs)
        ? setInterval(() => {
            if (socket.readyState !== socket.OPEN) return;
            if (!alive && socket.bufferedAmount === 0) {
              socket.terminate();
              return;
            }
            alive = false;
            socket.ping();
          }, keepAliveMs)
        : undefined;
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          if (socket.readyState !== socket.OPEN) return Promise.resolve();
          if (raw && !corked) {
            corked = true;
            raw.cork();
            setImmediate(uncork);
          }
          if (socket.bufferedAmount < WS_SEND_HIGH_WATER_BYTES) {
            socket.send(data);
            return Promise.resolve();
          }
          return new Promise<void>((resolve, reject) => socket.send(data, (err?: Error) => (err ? reject(err) : resolve())));
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', async (message: Buffer) => {
            alive = true;
            try {
              await cb(String(message));
            } catch (err) {
              opts.onError?.(err);
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request } as never,
    );
    socket.once('close', (code: number, reason: Buffer) => {
      if (pinger) clearInterval(pinger);
      if (corked) uncork();
      void closed(code, String(reason));
    });
  });
  return {
    dispose: async () => {
      for (const c of wss.clients) c.close(1001, 'Going away');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
