import { ValidationError, type RecordedEvent } from '@patchbay/contracts';
import type { GatewayServices } from '../../context.js';
import { NotFoundError } from '../../errors.js';
import { eventsAsOf, foldCycle } from '../../audit/fold.js';
import { readCycleHistory } from '../../audit/history.js';
import { verifyCycleHistory } from '../../audit/verify.js';
import { signExport, type ExportFormat } from '../../audit/export.js';

/** A recorded event in the GraphQL shape. */
export function eventView(e: RecordedEvent) {
  return { ...e.metadata, position: e.position.toString(), type: e.type, data: e.data };
}

/** Auditor queries: history, state as of a moment, chain verification, signed export. */
export function auditResolvers(s: GatewayServices) {
  return {
    Query: {
      cycleHistory: async (_: unknown, a: { cycleId: string; after?: string | null; first?: number | null }) => {
        if (a.first !== undefined && a.first !== null && (a.first < 1 || a.first > 10_000)) throw new ValidationError('first: 1 to 10000', { first: a.first });
        let after: bigint | undefined;
        if (a.after) {
          if (!/^\d{1,30}$/.test(a.after)) throw new ValidationError('after: a global position (decimal string)', { after: a.after });
          after = BigInt(a.after);
        }
        const h = await readCycleHistory(s.store, a.cycleId);
        const events = h.events.filter((e) => after === undefined || e.position > after);
        return (a.first ? events.slice(0, a.first) : events).map(eventView);
      },
      cycleAsOf: async (_: unknown, a: { cycleId: string; at?: Date | null; eventId?: string | null }) => {
        if ((a.at ? 1 : 0) + (a.eventId ? 1 : 0) !== 1) throw new ValidationError('give exactly one of at (DateTime) or eventId');
        const h = await readCycleHistory(s.store, a.cycleId);
        const events = eventsAsOf(h.events, a.eventId ? { eventId: a.eventId } : { time: a.at! });
        if (!events) throw new NotFoundError(`event in the history of cycle ${a.cycleId}:`, a.eventId!);
        const state = foldCycle(a.cycleId, events);
        const counts = new Map<string, number>();
        for (const e of state.endpoints) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
        return { ...state, lastPosition: state.lastPosition?.toString() ?? null, endpointsByState: [...counts].map(([state, count]) => ({ state, count })) };
      },
      verifyCycle: async (_: unknown, a: { cycleId: string }) => verifyCycleHistory(await readCycleHistory(s.store, a.cycleId)),
      cycleExport: async (_: unknown, a: { cycleId: string; format: ExportFormat }) => signExport(await readCycleHistory(s.store, a.cycleId), a.format, s.signer),
      auditPublicKey: () => ({ keyId: s.signer.keyId, algorithm: 'Ed25519', pem: s.signer.publicKeyPem }),
    },
  };
}
