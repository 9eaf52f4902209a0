// Shared set-up of this package's spec files (not part of the public API).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '@patchbay/event-store';
import type { NewEvent } from '@patchbay/contracts';

/** A real SQLite event store in a fresh temp dir; `dispose` closes it and removes the dir. */
export function tempStore(): { store: SqliteEventStore; dir: string; path: string; dispose: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-messaging-'));
  const path = join(dir, 'events.db');
  const store = SqliteEventStore.open(path);
  return {
    store,
    dir,
    path,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A new event for `append`, with an id unique to the test run. */
export function newEvent(type: string, data: unknown, id?: string): NewEvent {
  return { eventId: id ?? `${type}-${Math.random().toString(36).slice(2)}-${Date.now()}`, type, data, actor: 'spec', correlationId: 'spec-correlation', causationId: 'spec-causation' };
}

/** Polls `check` until it is true or `timeoutMs` passes (then throws with `what`). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
