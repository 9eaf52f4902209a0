import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from '../gql/graphql';

/** A refusal from the gateway: `code` is its stable error code (FORBIDDEN, WORKFLOW_UNSAFE_VALUE …). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly details?: unknown,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  /** Definition issues (`{ code, path, message }`) when the refusal carries them. */
  get issues(): Array<{ code: string; path: string; message: string }> {
    const d = this.details as { issues?: Array<{ code: string; path: string; message: string }> } | undefined;
    return Array.isArray(d?.issues) ? d.issues : [];
  }
}

const TOKEN_KEY = 'patchbay.token';

export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

type GraphQLErrorShape = { message: string; extensions?: { code?: string; details?: unknown } & Record<string, unknown> };

/** Sends one operation to `/graphql` with the signed-in token; throws ApiError for any error. */
export async function request<R, V>(document: TypedDocumentString<R, V>, variables?: V, token = tokenStore.get()): Promise<R> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
    });
  } catch (err) {
    throw new ApiError(`The gateway cannot be reached: ${(err as Error).message}`, 'NETWORK');
  }
  let body: { data?: R | null; errors?: GraphQLErrorShape[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ApiError(`The gateway answered ${response.status} without a GraphQL body`, 'BAD_RESPONSE', undefined, response.status);
  }
  const first = body.errors?.[0];
  if (first) {
    const ext = first.extensions ?? {};
    throw new ApiError(first.message, typeof ext.code === 'string' ? ext.code : 'INTERNAL', ext.details ?? ext, response.status);
  }
  if (!body.data) throw new ApiError('The gateway answered without data', 'BAD_RESPONSE', undefined, response.status);
  return body.data;
}

let wsClient: { token: string; client: Client } | undefined;

function subscriptionClient(token: string): Client {
  if (wsClient?.token === token) return wsClient.client;
  void wsClient?.client.dispose();
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
  const client = createClient({ url, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: Infinity, shouldRetry: () => true, lazy: true });
  wsClient = { token, client };
  return client;
}

/** Closes the live connection (on sign-out). */
export function closeSubscriptions(): void {
  void wsClient?.client.dispose();
  wsClient = undefined;
}

/**
 * Calls `fn` each time the live connection comes back after a drop: subscriptions resume, but what
 * happened meanwhile was not delivered, so a live page reads its state again. Returns the function
 * that stops listening.
 */
export function onReconnect(fn: () => void): () => void {
  const token = tokenStore.get();
  if (!token) return () => undefined;
  return subscriptionClient(token).on('connected', (_socket, _payload, wasRetry) => {
    if (wasRetry) fn();
  });
}

export interface SubscriptionHandlers<R> {
  next(data: R): void;
  error?(error: ApiError): void;
  complete?(): void;
}

/** Starts a subscription over graphql-ws; returns the function that ends it. */
export function subscribe<R, V>(document: TypedDocumentString<R, V>, variables: V, handlers: SubscriptionHandlers<R>): () => void {
  const token = tokenStore.get();
  if (!token) {
    handlers.error?.(new ApiError('Sign in first', 'UNAUTHENTICATED'));
    return () => undefined;
  }
  return subscriptionClient(token).subscribe<R>(
    { query: document.toString(), variables: (variables ?? {}) as Record<string, unknown> },
    {
      next: (result) => {
        const first = (result.errors as GraphQLErrorShape[] | undefined)?.[0];
        if (first) handlers.error?.(new ApiError(first.message, String(first.extensions?.code ?? 'INTERNAL'), first.extensions?.details));
        else if (result.data) handlers.next(result.data as R);
      },
      error: (err) => handlers.error?.(err instanceof ApiError ? err : new ApiError(err instanceof Error ? err.message : 'the live connection closed', 'SUBSCRIPTION_CLOSED')),
      complete: () => handlers.complete?.(),
    },
  );
}
