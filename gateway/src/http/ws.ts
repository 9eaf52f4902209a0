import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, handleProtocols, MessageType, parseMessage, stringifyMessage, type SubscribePayload } from 'graphql-ws';
import type { WebSocket as WsSocket, WebSocketServer as WsServer } from 'ws';
import type { SubscriptionSink } from '../events/shared-subscriptions.js';
import { errorsJson, resultJson } from '../events/result-json.js';
import { assemble, writeAssembled, type Piece } from './chunks.js';

type WebSocket = InstanceType<typeof WsSocket>;
type WebSocketServer = InstanceType<typeof WsServer>;

/** Bytes queued on one socket beyond which a single result waits until the peer has taken them. */
export const WS_SEND_HIGH_WATER_BYTES = 1 << 20;

/** What one operation of a connection turned into. */
export type OperationOutcome =
  /** Refused before it ran (bad token, parse or validation errors): an `error` message. */
  | { kind: 'refused'; errors: readonly GraphQLError[] }
  /** One result (a query, a mutation, or a subscription that failed to start): `next` then `complete`. */
  | { kind: 'result'; result: ExecutionResult }
  /** A running subscription writing into the sink it was given; `stop()` ends it (client `complete`, socket closed). */
  | { kind: 'stream'; stop(): void };

export interface GraphqlWsHandlers<C> {
  /** `connection_init`: the connection's context, or false to close it with 4403 Forbidden. */
  onConnect(params: Record<string, unknown>, request: IncomingMessage): Promise<C | false>;
  /** A `subscribe` message: run it; results of a stream go to `sink`. */
  onOperation(context: C, payload: SubscribePayload, sink: SubscriptionSink, request: IncomingMessage): Promise<OperationOutcome>;
  /** Ping interval; a socket that sends nothing back for this long after a ping is closed. Default 12 s. */
  keepAliveMs?: number;
  /** How long a socket may stay open without `connection_init`. Default 3 s. */
  connectionInitWaitTimeoutMs?: number;
  /** Internal errors (a failing handler); the socket is closed with 1011 either way. */
  onError?: (err: unknown) => void;
  /** Messages are written at most this often per socket (ms); 0: at the end of each turn of the event loop. Default 0. */
  flushMs?: number;
}

/**
 * The `graphql-transport-ws` protocol (graphql-ws's, the same close codes and messages) on a `ws`
 * server, built for many subscribers of few distinct subscriptions:
 * - a subscription's results arrive as JSON text made once for all its subscribers and leave as
 *   `{"id":…,"type":"next","payload":…}` without another serialisation or a promise per result;
 * - messages sent within one turn of the event loop (or within `flushMs`) leave in one socket
 *   write: text frames are made here (no compression is negotiated) from pieces, so a result's
 *   bytes are encoded once for all its subscribers and only the operation id is per subscriber;
 *   control frames (ping, close) stay with `ws`, and a close frame follows what was queued before it;
 * - a subscriber whose results are not being taken (counted per subscription until the socket has
 *   written them) past the limit gets SUBSCRIPTION_TOO_SLOW, never a silent gap;
 * - keep-alive counts any pong or message as alive, and never closes a socket whose outgoing
 *   queue is still draining (a busy gateway answers pings late; a dead peer shows as a send error).
 */
export function serveGraphqlWs<C>(wss: WebSocketServer, handlers: GraphqlWsHandlers<C>): { dispose(): Promise<void> } {
  const keepAliveMs = handlers.keepAliveMs ?? 12_000;
  const initWaitMs = handlers.connectionInitWaitTimeoutMs ?? 3_000;
  const flushMs = handlers.flushMs ?? 0;
  wss.options.handleProtocols = handleProtocols;
  // Frames are written here as they are on the wire: compressed frames would need `ws` to write them.
  if (wss.options.perMessageDeflate) throw new Error('serveGraphqlWs writes uncompressed frames: create the WebSocketServer with perMessageDeflate: false');

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const raw = (socket as unknown as { _socket?: Writable })._socket;
    /** Frames waiting for the flush (a header as its payload length, then the payload's pieces): written together. */
    let batch: Piece[] = [];
    let batchWritten: Array<((err?: Error) => void) | undefined> = [];
    let flushScheduled = false;
    /** Messages waiting for the flush: held by us, not behind at the peer. */
    let heldByFlush = 0;
    let alive = true;
    let initReceived = false;
    let context: C | undefined;
    const operations = new Map<string, { stop(): void } | undefined>();
    const flush = () => {
      flushScheduled = false;
      heldByFlush = 0;
      if (batch.length === 0) return;
      const pieces = batch;
      const callbacks = batchWritten;
      batch = [];
      batchWritten = [];
      const done = (err?: Error | null) => {
        for (const cb of callbacks) cb?.(err ?? undefined);
      };
      if (socket.readyState !== socket.OPEN || !raw) {
        done(new Error('socket closed'));
        return;
      }
      // Small frames copied together, large shared results by reference: one writev for the lot.
      writeAssembled(raw, assemble(pieces), done);
    };
    /** Queues one text message (its bytes in pieces) for the next flush. */
    const send = (pieces: string | readonly Buffer[], written?: (err?: Error) => void): void => {
      if (socket.readyState !== socket.OPEN) {
        written?.(new Error('socket closed'));
        return;
      }
      const parts = typeof pieces === 'string' ? [Buffer.from(pieces)] : pieces;
      let length = 0;
      for (const p of parts) length += p.length;
      batch.push(length, ...parts);
      batchWritten.push(written);
      heldByFlush++;
      if (!flushScheduled) {
        flushScheduled = true;
        if (flushMs > 0) setTimeout(flush, flushMs);
        else setImmediate(flush);
      }
    };
    const close = (code: number, reason: string) => {
      // What was sent before the close goes before the close frame.
      flush();
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
    };
    const internal = (err: unknown) => {
      handlers.onError?.(err);
      close(CloseCode.InternalServerError, 'Internal server error');
    };

    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      close(CloseCode.SubprotocolNotAcceptable, 'Subprotocol not acceptable');
      return;
    }
    const initTimer = setTimeout(() => {
      if (!initReceived) close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
    }, initWaitMs);
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

    const subscribe = async (id: string, payload: SubscribePayload): Promise<void> => {
      if (operations.has(id)) {
        close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
        return;
      }
      operations.set(id, undefined);
      const idJson = JSON.stringify(id);
      const nextPrefix = Buffer.from(`{"id":${idJson},"type":"next","payload":`);
      const nextMessage = (json: string) => `{"id":${idJson},"type":"next","payload":${json}}`;
      const errorMessage = (errors: string) => `{"id":${idJson},"type":"error","payload":${errors}}`;
      const completeMessage = () => stringifyMessage({ id, type: MessageType.Complete });
      let unwritten = 0;
      let finished = false;
      const written = () => void unwritten--;
      const finish = (message: string) => {
        if (finished) return;
        finished = true;
        operations.delete(id);
        send(message);
      };
      const sink: SubscriptionSink = {
        next: (result) => {
          if (finished) return;
          unwritten++;
          // The result's bytes are shared by every subscriber: only the prefix is this operation's.
          send([nextPrefix, result.nextTail], written);
        },
        end: (errors) => finish(errors ? errorMessage(errors) : completeMessage()),
        get backlog() {
          return Math.max(0, unwritten - heldByFlush);
        },
      };
      const outcome = await handlers.onOperation(context as C, payload, sink, request);
      // The client completed the operation (or the socket closed) while it was starting.
      const cancelled = !operations.has(id);
      if (outcome.kind === 'stream') {
        if (cancelled || finished) outcome.stop();
        else operations.set(id, outcome);
        return;
      }
      if (cancelled) return;
      if (outcome.kind === 'refused') {
        finish(errorMessage(errorsJson(outcome.errors)));
        return;
      }
      const message = nextMessage(resultJson(outcome.result));
      // A single result waits for the socket when a lot is queued (a large query over a slow link).
      if (socket.bufferedAmount >= WS_SEND_HIGH_WATER_BYTES) await new Promise<void>((r) => send(message, () => r()));
      else send(message);
      finish(completeMessage());
    };

    socket.on('message', (data: Buffer) => {
      alive = true;
      let message;
      try {
        message = parseMessage(String(data));
      } catch (err) {
        close(CloseCode.BadRequest, `Invalid message received: ${(err as Error).message}`.slice(0, 120));
        return;
      }
      switch (message.type) {
        case MessageType.ConnectionInit: {
          if (initReceived) {
            close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests');
            return;
          }
          initReceived = true;
          clearTimeout(initTimer);
          handlers.onConnect((message.payload ?? {}) as Record<string, unknown>, request).then((c) => {
            if (c === false) close(CloseCode.Forbidden, 'Forbidden');
            else {
              context = c;
              send(stringifyMessage({ type: MessageType.ConnectionAck }));
            }
          }, internal);
          return;
        }
        case MessageType.Ping:
          send(stringifyMessage(message.payload ? { type: MessageType.Pong, payload: message.payload } : { type: MessageType.Pong }));
          return;
        case MessageType.Pong:
          return;
        case MessageType.Subscribe:
          if (context === undefined) {
            close(CloseCode.Unauthorized, 'Unauthorized');
            return;
          }
          subscribe(message.id, message.payload).catch(internal);
          return;
        case MessageType.Complete: {
          const op = operations.get(message.id);
          operations.delete(message.id);
          op?.stop();
          return;
        }
        default:
          close(CloseCode.BadRequest, `Unexpected message of type ${message.type} received`);
      }
    });

    socket.once('error', (err: Error) => internal(err));
    socket.once('close', () => {
      clearTimeout(initTimer);
      if (pinger) clearInterval(pinger);
      flush();
      for (const op of operations.values()) op?.stop();
      operations.clear();
    });
  });

  return {
    dispose: async () => {
      for (const c of wss.clients) c.close(1001, 'Going away');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
