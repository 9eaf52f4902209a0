import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga, isAsyncIterable, type Plugin } from 'graphql-yoga';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionResult } from 'graphql';
import { WebSocketServer } from 'ws';
import { PatchbayError } from '@patchbay/contracts';
import { extractTraceContext, SpanKind, withSpan } from '@patchbay/telemetry';
import { guardResolvers, type Principal } from './auth/roles.js';
import { bearerToken } from './auth/tokens.js';
import type { GatewayContext, GatewayServices } from './context.js';
import { codedError, RateLimitedError, toGraphQLError } from './errors.js';
import { armorPlugin, batchingPlugin, introspectionPlugin, RateLimiter } from './http/limits.js';
import { handleAuditHttp } from './http/audit-routes.js';
import { consoleHandler } from './http/console.js';
import { batchedSsePlugin, SSE_SINK, SseSink, wantsSse } from './http/sse.js';
import { serveGraphqlWs } from './http/ws.js';
import { SharedSubscriptions, sharedSubscriptionsPlugin, SUBSCRIPTION_SINK } from './events/shared-subscriptions.js';
import { scalarResolvers } from './modules/scalars.js';
import { GATEWAY_TYPE_DEFS } from './schema.js';
import { healthResolvers, type HealthModuleOptions } from './modules/health/resolvers.js';
import { authResolvers } from './modules/auth/resolvers.js';
import { cycleResolvers } from './modules/cycles/resolvers.js';
import { auditResolvers } from './modules/audit/resolvers.js';
import { eventResolvers, SUBSCRIPTION_PAYLOADS } from './modules/events/resolvers.js';
import { webhookResolvers } from './modules/webhooks/resolvers.js';
import { readResolvers } from './modules/read/resolvers.js';
import { commandResolvers } from './modules/commands/resolvers.js';
import type { GatewaySettings } from './settings.js';

export interface GatewayServerOptions extends HealthModuleOptions {
  host?: string;
  port?: number;
  settings: GatewaySettings;
  ports: GatewayServices;
  /** An internal error on a WebSocket connection (the connection is closed with 1011 either way). */
  onInternalError?: (err: unknown) => void;
}

export interface GatewayServer {
  readonly url: string;
  /** `ws://…/graphql` for graphql-ws clients. */
  readonly wsUrl: string;
  close(): Promise<void>;
}

/** Gives every error of a result a stable `extensions.code` (keeping yoga's HTTP status hints). */
function withCodes(result: ExecutionResult): ExecutionResult {
  if (!result.errors?.length) return result;
  return {
    ...result,
    errors: result.errors.map((e) => {
      if (typeof e.extensions?.['code'] === 'string') return e;
      const mapped = toGraphQLError(e);
      const http = e.extensions?.['http'] as { status?: number } | undefined;
      const code = http?.status === 405 ? 'METHOD_NOT_ALLOWED' : http && (http.status ?? 0) >= 400 && !e.message.startsWith('Syntax Error') ? 'BAD_REQUEST' : mapped.extensions['code'];
      return new GraphQLError(e.message, { nodes: e.nodes, path: e.path, extensions: { ...e.extensions, ...mapped.extensions, code } });
    }),
  };
}

const errorCodesPlugin: Plugin = {
  onResultProcess({ result, setResult }) {
    if (isAsyncIterable(result)) return;
    setResult(Array.isArray(result) ? result.map(withCodes) : withCodes(result as ExecutionResult));
  },
};

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** A GraphQL-shaped refusal sent before yoga sees the request (body size, rate, bad token). */
function refuse(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/** The caller of a request: `undefined` without a token; throws `UNAUTHENTICATED` for a bad one. */
async function principalOf(services: GatewayServices, header: string | undefined): Promise<Principal | undefined> {
  const token = bearerToken(header);
  return token ? services.tokens.authenticate(token) : undefined;
}

/** The gateway's own audit downloads (`/audit/public-key`, `/audit/cycles/<id>/export.<format>`). */
const isAuditDownload = (path: string): boolean => path === '/audit/public-key' || path.startsWith('/audit/cycles/');

/**
 * Starts the GraphQL endpoint (graphql-yoga on node:http) at `/graphql`: queries, mutations and
 * SSE subscriptions over HTTP, graphql-ws subscriptions over WebSocket on the same port, and the
 * audit downloads under `/audit/`.
 */
export async function startGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const { settings, ports: services } = options;
  const resolvers = guardResolvers([
    healthResolvers(options),
    authResolvers(services),
    cycleResolvers(services),
    auditResolvers(services),
    eventResolvers(services),
    webhookResolvers(services),
    readResolvers(services),
    commandResolvers(services),
  ] as unknown as Array<Record<string, Record<string, unknown>>>);
  // Equal subscriptions are executed once per event for all their subscribers (see SharedSubscriptions).
  const shared = new SharedSubscriptions(() => services.fanout.pubsub.maxBacklog, SUBSCRIPTION_PAYLOADS);
  const yoga = createYoga<{ principal?: Principal; [SSE_SINK]?: SseSink }, GatewayContext>({
    schema: createSchema({
      typeDefs: [...GATEWAY_TYPE_DEFS],
      resolvers: [scalarResolvers, ...resolvers] as never,
    }),
    graphqlEndpoint: '/graphql',
    logging: false,
    landingPage: false,
    graphiql: false,
    // Batches are admitted to the parser and refused (or capped) by batchingPlugin with its own codes.
    batching: { limit: Math.max(settings.batchingLimit, 1) },
    maskedErrors: { maskError: (error) => toGraphQLError(error) },
    plugins: [batchingPlugin(settings.batchingLimit), armorPlugin(settings), introspectionPlugin(settings.introspection), errorCodesPlugin, sharedSubscriptionsPlugin(shared), batchedSsePlugin()],
  });
  const limiter = new RateLimiter(settings.rateLimitPerMinute);
  const webConsole = consoleHandler(settings.consoleDir);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestPath = (req.url ?? '/').split('?')[0]!;
    // The console's files are public (the page signs in with a token it sends to /graphql). Its
    // own `/audit/<cycle id>` page is a client route; only the downloads below are the gateway's.
    if (requestPath !== yoga.graphqlEndpoint && !isAuditDownload(requestPath) && webConsole.handle(req, res, requestPath)) return;
    let principal: Principal | undefined;
    try {
      principal = await principalOf(services, req.headers.authorization);
    } catch (err) {
      return refuse(res, 401, (err as PatchbayError).code ?? 'UNAUTHENTICATED', (err as Error).message);
    }
    const wait = limiter.take(principal ? `token:${principal.tokenId}` : `ip:${req.socket.remoteAddress ?? '?'}`);
    if (wait > 0) {
      const e = new RateLimitedError(wait);
      return refuse(res, 429, e.code, e.message, { 'retry-after': String(wait) });
    }
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > settings.maxBodyBytes) {
      res.setHeader('connection', 'close');
      return refuse(res, 413, 'PAYLOAD_TOO_LARGE', `request body over ${settings.maxBodyBytes} bytes (GATEWAY_MAX_BODY_BYTES)`);
    }
    if (req.method === 'POST' && length === undefined) return refuse(res, 411, 'LENGTH_REQUIRED', 'a POST needs a Content-Length header');
    if (isAuditDownload(requestPath)) return handleAuditHttp(req, res, requestPath, principal, services);
    // One span per API request, continuing the caller's trace (`traceparent` from an ITSM system or the
    // CLI): commands sent while it is active carry it on, so a cycle requested here is one trace.
    const parent = extractTraceContext({ traceparent: header(req, 'traceparent'), tracestate: header(req, 'tracestate') });
    await withSpan(`HTTP ${req.method ?? 'GET'} ${requestPath}`, () => yoga(req, res, { principal, ...(wantsSse(header(req, 'accept')) ? { [SSE_SINK]: new SseSink(res, settings.subscriptionFlushMs) } : {}) }), { parent, kind: SpanKind.SERVER, tracer: '@patchbay/gateway', attributes: { 'http.request.method': req.method ?? 'GET', 'url.path': requestPath } });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) refuse(res, 500, 'INTERNAL', 'Unexpected error.');
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: settings.maxBodyBytes, perMessageDeflate: false });
  serveGraphqlWs<{ token: string }>(wss, {
    onConnect: async (params) => {
      const header = typeof params['authorization'] === 'string' ? params['authorization'] : typeof params['token'] === 'string' ? params['token'] : undefined;
      try {
        const principal = await principalOf(services, header);
        if (!principal) return false; // closes with 4403 Forbidden: subscriptions need a token
        if (limiter.take(`token:${principal.tokenId}`) > 0) return false;
        return { token: header! };
      } catch {
        return false;
      }
    },
    onOperation: async (connection, payload, sink, request) => {
      // Checked again per operation, so a token revoked after connecting starts nothing new.
      let principal: Principal | undefined;
      try {
        principal = await principalOf(services, connection.token);
      } catch (err) {
        return { kind: 'refused', errors: [toGraphQLError(err)] };
      }
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ req: request, params: payload, principal });
      let document: DocumentNode;
      try {
        document = parse(payload.query);
      } catch (err) {
        return { kind: 'refused', errors: [toGraphQLError(err)] };
      }
      const errors = validate(schema, document);
      if (errors.length) return { kind: 'refused', errors: errors.map((e: GraphQLError) => (typeof e.extensions?.['code'] === 'string' ? e : toGraphQLError(e))) };
      const operation = getOperationAST(document, payload.operationName);
      if (!operation) return { kind: 'refused', errors: [codedError('GRAPHQL_VALIDATION_FAILED', 'Unable to identify the operation to run.')] };
      // A subscription's results go straight to the socket through the sink (see SharedSubscriptions).
      const args = { schema, operationName: payload.operationName, document, variableValues: payload.variables, contextValue: { ...(await contextFactory()), principal, [SUBSCRIPTION_SINK]: sink } };
      const result = (await (operation.operation === 'subscription' ? subscribe(args) : execute(args))) as ExecutionResult | AsyncIterableIterator<ExecutionResult>;
      if (isAsyncIterable(result)) {
        if (operation.operation === 'subscription') return { kind: 'stream', stop: () => void result.return?.()?.catch(() => undefined) };
        void result.return?.()?.catch(() => undefined);
        return { kind: 'refused', errors: [codedError('BAD_REQUEST', 'incremental delivery is not supported over WebSocket')] };
      }
      return { kind: 'result', result };
    },
    ...(options.onInternalError ? { onError: options.onInternalError } : {}),
    flushMs: settings.subscriptionFlushMs,
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4000, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/graphql`,
    wsUrl: `ws://${host}:${addr.port}/graphql`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients as Set<{ terminate(): void }>) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
