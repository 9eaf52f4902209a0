/**
 * The `data:` payloads of a server-sent-events body, parsed as JSON, in order (comment lines such
 * as keep-alives, and frames without data, are skipped). Ends when the body does.
 */
export async function* sseData<T = unknown>(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null): AsyncGenerator<T> {
  if (!body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('');
      if (data) yield JSON.parse(data) as T;
    }
  }
}
