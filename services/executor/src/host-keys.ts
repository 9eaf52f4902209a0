import { HostKeyPinned, toEndpointStreamName } from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import type { HostKeyVerifier } from '@patchbay/remote';

/**
 * Host keys as the inventory service pinned them (`HostKeyPinned` in `endpoint-<id>`): the
 * executor accepts exactly the last pinned key and refuses anything else, including endpoints
 * with no pinned key (first use is the inventory's recorded decision, never the executor's).
 * Each check reads only the endpoint's events after the ones it has already seen (the stream
 * grows with every facts run): always as current as the store, without rereading the history.
 */
export function pinnedHostKeyVerifier(store: EventStore): HostKeyVerifier {
  const seen = new Map<string, { revision: number; fingerprint: string | undefined }>();
  return async (endpointId, presented) => {
    const known = seen.get(endpointId);
    const events = await store.readStream(toEndpointStreamName(endpointId), { fromRevision: known ? known.revision + 1 : 0, ifMissing: 'empty' });
    let revision = known?.revision ?? -1;
    let fingerprint = known?.fingerprint;
    for (const e of events) {
      revision = e.metadata.revision;
      if (e.type === HostKeyPinned.type) fingerprint = (e.data as { key: { fingerprint: string } }).key.fingerprint;
    }
    if (revision >= 0) seen.set(endpointId, { revision, fingerprint });
    return fingerprint !== undefined && fingerprint === presented.sha256Fingerprint ? 'accept' : 'reject';
  };
}
