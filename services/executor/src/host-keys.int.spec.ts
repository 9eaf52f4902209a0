import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HostKeyPinned, toEndpointStreamName } from '@patchbay/contracts';
import { SqliteEventStore, type EventStore, type ReadStreamOptions } from '@patchbay/event-store';
import { pinnedHostKeyVerifier } from './host-keys.js';

const key = (fingerprint: string) => ({ algorithm: 'ssh-ed25519', sha256Fingerprint: fingerprint, publicKeyBase64: 'AAAA' });

describe('pinnedHostKeyVerifier (SQLite store)', () => {
  let dir: string;
  let store: SqliteEventStore;
  const reads: Array<ReadStreamOptions | undefined> = [];
  let spied: EventStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-host-keys-'));
    store = SqliteEventStore.open(join(dir, 'events.db'));
    spied = Object.assign(Object.create(store) as EventStore, {
      readStream: (stream: string, options?: ReadStreamOptions) => {
        reads.push(options);
        return store.readStream(stream, options);
      },
    });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const append = (endpointId: string, type: string, data: Record<string, unknown>) => store.append(toEndpointStreamName(endpointId), [{ eventId: randomUUID(), type, data }], 'any');

  it('accepts exactly the last pinned key, at once after a new pin, and reads only the events it has not seen', async () => {
    const verify = pinnedHostKeyVerifier(spied);
    assert.equal(await verify('web-1', key('SHA256:one')), 'reject', 'no stream, no pinned key');
    await append('web-1', 'EndpointRegistered', { endpointId: 'web-1' });
    assert.equal(await verify('web-1', key('SHA256:one')), 'reject', 'registered but nothing pinned');
    await append('web-1', HostKeyPinned.type, { key: { fingerprint: 'SHA256:one' } });
    for (let i = 0; i < 5; i++) await append('web-1', 'FactsGathered', { round: i });
    assert.equal(await verify('web-1', key('SHA256:one')), 'accept');
    assert.equal(await verify('web-1', key('SHA256:two')), 'reject', 'another key is refused');
    // Re-pinned (the host was rekeyed and the inventory recorded it): the old key is refused at once.
    await append('web-1', HostKeyPinned.type, { key: { fingerprint: 'SHA256:two' } });
    assert.equal(await verify('web-1', key('SHA256:one')), 'reject');
    assert.equal(await verify('web-1', key('SHA256:two')), 'accept');
    // Each check after the first reads from the revision after the last one seen.
    assert.deepEqual(
      reads.map((r) => r?.fromRevision),
      [0, 0, 1, 7, 7, 8],
    );
    assert.equal(await verify('web-2', key('SHA256:two')), 'reject', 'a key pinned for another endpoint does not count');
  });
});
