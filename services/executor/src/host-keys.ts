import { HostKeyPinned, toEndpointStreamName } from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import type { HostKeyVerifier } from '@patchbay/remote';

/**
 * Host keys as the inventory service pinned them (`HostKeyPinned` in `endpoint-<id>`): the
 * executor accepts exactly the last pinned key and refuses anything else, including endpoints
 * with no pinned key (first use is the inventory's recorded decision, never the executor's).
 * Accepted keys are remembered for `cacheMs`, because a rebooting endpoint is reconnected often.
 */
export function pinnedHostKeyVerifier(store: EventStore, cacheMs = 5000): HostKeyVerifier {
  const cache = new Map<string, { fingerprint: string; until: number }>();
  return async (endpointId, presented) => {
    const hit = cache.get(endpointId);
    if (hit && hit.until > Date.now() && hit.fingerprint === presented.sha256Fingerprint) return 'accept';
    const events = await store.readStream(toEndpointStreamName(endpointId), { ifMissing: 'empty' });
    let pinned: string | undefined;
    for (const e of events) if (e.type === HostKeyPinned.type) pinned = (e.data as { key: { fingerprint: string } }).key.fingerprint;
    if (pinned === undefined || pinned !== presented.sha256Fingerprint) {
      cache.delete(endpointId);
      return 'reject';
    }
    cache.set(endpointId, { fingerprint: pinned, until: Date.now() + cacheMs });
    return 'accept';
  };
}
