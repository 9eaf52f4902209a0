import { PatchbayError } from '@patchbay/contracts';

/** One error of a GraphQL answer, with the gateway's stable code. */
export interface GraphQLErrorEntry {
  message: string;
  extensions?: { code?: string; details?: unknown };
}

/** The gateway refused the operation; `code` is its `extensions.code`. */
export class GatewayOperationError extends PatchbayError {
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, details && typeof details === 'object' && !Array.isArray(details) ? (details as Record<string, unknown>) : details === undefined ? {} : { value: details });
  }
}

/** Nothing answered at the gateway's URL (connection refused, DNS, timeout). */
export class GatewayUnreachableError extends PatchbayError {
  constructor(url: string, cause: string) {
    super('GATEWAY_UNREACHABLE', `the gateway at ${url} cannot be reached: ${cause}`);
  }
}

/** Bad command-line input found before anything is sent (a file that does not parse, a bad option). */
export class CliInputError extends PatchbayError {
  constructor(message: string, code = 'VALIDATION_FAILED') {
    super(code, message);
  }
}

/** The operation ran but its outcome is a failure (cycle halted, broken chain, bad export). */
export class OutcomeFailedError extends PatchbayError {
  constructor(message: string, code = 'OUTCOME_FAILED') {
    super(code, message);
  }
}

/** Exit codes of the gateway commands (documented in the help and the README). */
export const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, notFound: 4, unreachable: 5 } as const;

const USAGE_CODES = new Set(['VALIDATION_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'INVALID_QUERY', 'PAYLOAD_TOO_LARGE']);

/**
 * Maps an error code to the CLI's exit code: usage/input 2 (also every `*_INVALID*` code, e.g. a
 * rejected bundle or advisory, `INVALID_*` and `INVENTORY_*` input codes, and any refusal whose
 * details list `issues` of the input), auth 3, not found 4 (also `*_UNKNOWN_*` / `*_NOT_FOUND`),
 * gateway unreachable 5, anything else 1.
 */
export function exitCodeFor(code: string | undefined, details?: unknown): number {
  if (!code) return EXIT.failed;
  if (code === 'GATEWAY_UNREACHABLE') return EXIT.unreachable;
  if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN') return EXIT.auth;
  if (code === 'NOT_FOUND' || code.endsWith('_NOT_FOUND') || code.includes('_UNKNOWN_')) return EXIT.notFound;
  if (USAGE_CODES.has(code) || code.endsWith('_INVALID') || code.includes('_INVALID_') || code.startsWith('INVALID_') || code.startsWith('COMMANDER_') || code.startsWith('INVENTORY_')) return EXIT.usage;
  // A refusal listing issues of the input (file, line, field) is about the input.
  if (details && typeof details === 'object' && Array.isArray((details as { issues?: unknown }).issues)) return EXIT.usage;
  return EXIT.failed;
}

/** Where and how to reach the gateway. */
export interface GatewayTarget {
  url: string;
  token?: string;
}

/**
 * A small typed GraphQL client over `fetch`: queries and mutations as JSON POSTs, subscriptions
 * over yoga's SSE transport. Every failure becomes a `PatchbayError` with a stable code.
 */
export class GatewayClient {
  constructor(private readonly target: GatewayTarget) {}

  private headers(accept: string): Record<string, string> {
    return { 'content-type': 'application/json', accept, ...(this.target.token ? { authorization: `Bearer ${this.target.token}` } : {}) };
  }

  /** Runs one operation; resolves with `data` or throws the first error's code. */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.target.url, { method: 'POST', headers: this.headers('application/graphql-response+json, application/json'), body: JSON.stringify({ query, variables }) });
    } catch (err) {
      throw new GatewayUnreachableError(this.target.url, causeOf(err));
    }
    const text = await res.text();
    let body: { data?: T; errors?: GraphQLErrorEntry[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new GatewayOperationError(res.status === 401 ? 'UNAUTHENTICATED' : res.status === 404 ? 'NOT_FOUND' : 'INTERNAL', `HTTP ${res.status} from ${this.target.url}: ${text.slice(0, 200)}`);
    }
    const first = body.errors?.[0];
    if (first) throw new GatewayOperationError(first.extensions?.code ?? (res.status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL'), first.message, first.extensions?.details);
    if (!body.data) throw new GatewayOperationError('INTERNAL', `HTTP ${res.status} without data`);
    return body.data;
  }

  /** A plain authenticated GET below the gateway's origin (audit exports, public key). */
  async get(path: string): Promise<Response> {
    const url = new URL(path, this.target.url).toString();
    let res: Response;
    try {
      res = await fetch(url, { headers: this.target.token ? { authorization: `Bearer ${this.target.token}` } : {} });
    } catch (err) {
      throw new GatewayUnreachableError(url, causeOf(err));
    }
    if (!res.ok) {
      const text = await res.text();
      let code = res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'FORBIDDEN' : res.status === 404 ? 'NOT_FOUND' : 'INTERNAL';
      let message = `HTTP ${res.status} from ${url}`;
      try {
        const e = (JSON.parse(text) as { errors?: GraphQLErrorEntry[] }).errors?.[0];
        if (e) {
          code = e.extensions?.code ?? code;
          message = e.message;
        }
      } catch {
        /* not JSON: keep the status */
      }
      throw new GatewayOperationError(code, message);
    }
    return res;
  }

  /**
   * Subscribes over SSE and calls `onNext` with each result's `data`; resolves when the server
   * completes the stream or `signal` aborts it. `onOpen` is called once the server has accepted
   * the subscription (response headers received).
   */
  async subscribe<T>(query: string, variables: Record<string, unknown>, onNext: (data: T) => void, signal?: AbortSignal, onOpen?: () => void): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.target.url, { method: 'POST', headers: this.headers('text/event-stream'), body: JSON.stringify({ query, variables }), signal });
    } catch (err) {
      if (signal?.aborted) return;
      throw new GatewayUnreachableError(this.target.url, causeOf(err));
    }
    if (!res.ok || !res.body) {
      const text = await res.text();
      let code = res.status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL';
      try {
        code = (JSON.parse(text) as { errors?: GraphQLErrorEntry[] }).errors?.[0]?.extensions?.code ?? code;
      } catch {
        /* keep the status */
      }
      throw new GatewayOperationError(code, `subscription refused (HTTP ${res.status})`);
    }
    onOpen?.();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          if (event === 'complete') return;
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          if (!data) continue;
          const payload = JSON.parse(data) as { data?: T; errors?: GraphQLErrorEntry[] };
          const e = payload.errors?.[0];
          if (e) throw new GatewayOperationError(e.extensions?.code ?? 'INTERNAL', e.message, e.extensions?.details);
          if (payload.data) onNext(payload.data);
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
  }
}

function causeOf(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; message?: string };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
