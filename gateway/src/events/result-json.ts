import type { ExecutionResult } from 'graphql';

/*
 * Results and errors as the JSON text both subscription transports (SSE, graphql-ws) and the
 * shared subscriptions write: a result shared by many subscribers is serialised once.
 */

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

/** A list of errors as JSON text (what graphql-ws's `error` message and a result's `errors` carry). */
export const errorsJson = (errors: readonly unknown[]): string => JSON.stringify(errors.map(publicError));

/** The JSON of one result (cached per result object when it has no errors). */
export function resultJson(result: ExecutionResult): string {
  if (result.errors?.length) return JSON.stringify({ ...result, errors: result.errors.map(publicError) });
  let text = serialised.get(result);
  if (text === undefined) serialised.set(result, (text = JSON.stringify(result)));
  return text;
}

/** One SSE `next` frame around a result's JSON (yoga's wire format). */
export const sseNextFrame = (json: string): string => `event: next\ndata: ${json}\n\n`;

/**
 * One result of a shared subscription as every transport writes it, made once however many
 * subscribers receive it: the JSON text, the end of a graphql-ws `next` message (the JSON's UTF-8
 * and the closing brace) and its whole SSE frame (identical for every SSE subscriber of the
 * subscription). Each is made on first use, by the first subscriber of that transport.
 */
export class ResultText {
  private frame: Buffer | undefined;
  private tail: Buffer | undefined;

  constructor(readonly json: string) {}

  /** The JSON and the `}` that closes a graphql-ws `next` message around it, as UTF-8 (what follows each subscriber's own prefix). */
  get nextTail(): Buffer {
    return (this.tail ??= Buffer.from(`${this.json}}`));
  }

  /** `event: next\ndata: <json>\n\n` as UTF-8. */
  get sseFrame(): Buffer {
    return (this.frame ??= Buffer.from(sseNextFrame(this.json)));
  }
}
