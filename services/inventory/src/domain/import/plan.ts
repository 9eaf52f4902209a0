import type { HostKeyPolicy } from '@patchbay/contracts';
import { decide, type EndpointEvent, type EndpointState } from '../endpoint.js';
import type { EndpointSpec } from './endpoint-spec.js';

/** What an import will append to one endpoint stream, at which expected revision. */
export interface StreamChange {
  endpointId: string;
  /** Revision of the stream's last event when planned (-1: no stream). */
  expectedRevision: number;
  events: EndpointEvent[];
}

export interface ImportPlan {
  source: string;
  changes: StreamChange[];
  summary: { endpoints: number; registered: number; updated: number; unchanged: number; retired: number };
}

/** The registration source an import writes, so a later import of the same file can find its endpoints. */
export const importSource = (format: string, fileName: string): string => `${format}:${fileName}`.slice(0, 500);

/**
 * Plans an import as data: for every listed endpoint the decider's `Upsert` against its current
 * state (so an unchanged endpoint yields nothing and a re-import of the same file appends no
 * event), and with `retireMissing` a `Retire` for active endpoints of this source the file no
 * longer lists. Pure; the caller validated the file before.
 */
export function planImport(
  specs: readonly EndpointSpec[],
  current: ReadonlyMap<string, { state: EndpointState; revision: number }>,
  options: { source: string; retireMissing: boolean; hostKeyPolicy?: HostKeyPolicy },
): ImportPlan {
  const changes: StreamChange[] = [];
  const summary = { endpoints: specs.length, registered: 0, updated: 0, unchanged: 0, retired: 0 };
  const listed = new Set<string>();
  for (const spec of specs) {
    listed.add(spec.endpointId);
    const cur = current.get(spec.endpointId);
    const state = cur?.state ?? { status: 'unknown' as const, labels: {} };
    const events = decide({ type: 'Upsert', endpointId: spec.endpointId, labels: spec.labels, ssh: spec.ssh, source: options.source, ...(spec.hostKeyPolicy ? { hostKeyPolicy: spec.hostKeyPolicy } : {}) }, state);
    if (events.length === 0) summary.unchanged++;
    else {
      if (events[0]!.type === 'EndpointRegistered') summary.registered++;
      else summary.updated++;
      changes.push({ endpointId: spec.endpointId, expectedRevision: cur?.revision ?? -1, events });
    }
  }
  if (options.retireMissing) {
    for (const [id, { state, revision }] of [...current].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (listed.has(id) || state.status !== 'active' || state.source !== options.source) continue;
      changes.push({ endpointId: id, expectedRevision: revision, events: decide({ type: 'Retire', endpointId: id, reason: `no longer listed in ${options.source}` }, state) });
      summary.retired++;
    }
  }
  return { source: options.source, changes, summary };
}
