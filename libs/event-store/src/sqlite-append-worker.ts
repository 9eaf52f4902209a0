/**
 * A separate OS process that appends to a SQLite event store file, for the multi-process tests:
 *   duel <file> <stream> <writer> <attempts>   decide-then-append loop against one stream
 *   batches <file> <prefix> <size>             appends large batches forever (killed by the test)
 *   append <file> <stream> <count> <delayMs>   appends single events, data carries the send time
 *   many <file> <prefix> <streams>             appendMany calls of <streams> new streams forever (killed by the test)
 * Prints one JSON line per outcome on stdout.
 */
import { SqliteEventStore } from './sqlite.js';
import { WrongExpectedVersionError } from './port.js';
import type { ExpectedRevision } from './port.js';

const [mode, file, a, b, c] = process.argv.slice(2);
const out = (v: unknown): boolean => process.stdout.write(`${JSON.stringify(v)}\n`);

async function main(): Promise<void> {
  const store = SqliteEventStore.open(file!);
  if (mode === 'duel') {
    const [stream, writer, attempts] = [a!, b!, Number(c)];
    out({ ready: true });
    // Start together: wait for the parent's go on stdin.
    await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
    process.stdin.destroy();
    for (let i = 0; i < attempts; i++) {
      const head = await store.readStream(stream, { direction: 'backwards', maxCount: 1, ifMissing: 'empty' });
      const expected: ExpectedRevision = head.length === 0 ? 'no-stream' : head[0]!.metadata.revision;
      try {
        const r = await store.append(stream, [{ eventId: `${writer}-${i}`, type: 'Duelled', data: { writer, attempt: i } }], expected);
        out({ won: true, expected, revision: r.nextExpectedRevision });
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        out({ won: false, expected });
      }
    }
  } else if (mode === 'batches') {
    const [prefix, size] = [a!, Number(b)];
    const payload = 'x'.repeat(512);
    for (let k = 0; ; k++) {
      const stream = `${prefix}-${k}`;
      const events = Array.from({ length: size }, (_, i) => ({ eventId: `${stream}/${i}`, type: 'Filled', data: { k, i, payload } }));
      await store.append(stream, events, 'no-stream');
      out({ committed: stream });
    }
  } else if (mode === 'many') {
    const [prefix, streams] = [a!, Number(b)];
    const payload = 'x'.repeat(512);
    for (let k = 0; ; k++) {
      const writes = Array.from({ length: streams }, (_, i) => {
        const stream = `${prefix}-${k}-${i}`;
        return { stream, events: [{ eventId: `${stream}/0`, type: 'Filled', data: { k, i, payload } }], expected: 'no-stream' as const };
      });
      const started = Date.now();
      await store.appendMany(writes);
      out({ committed: k, ms: Date.now() - started });
    }
  } else if (mode === 'append') {
    const [stream, count, delayMs] = [a!, Number(b), Number(c)];
    for (let i = 0; i < count; i++) {
      await new Promise((r) => setTimeout(r, delayMs));
      await store.append(stream, [{ eventId: `${stream}/${i}`, type: 'Sent', data: { i, sentAt: Date.now() } }], i === 0 ? 'no-stream' : i - 1);
    }
    out({ done: count });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  await store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
