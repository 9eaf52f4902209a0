import { filter, pipe } from '@graphql-yoga/subscription';
import type { RecordedEvent } from '@patchbay/contracts';
import type { GatewayServices } from '../../context.js';
import { matchesFilter, type PatchEventFilter } from '../../events/filter.js';
import { parseCycleId } from '../../audit/history.js';
import { eventView } from '../audit/resolvers.js';

/** What each subscription field resolves an event to: a plain function of the event, so shared subscriptions may read results straight off it. */
export const SUBSCRIPTION_PAYLOADS = { cycleProgress: eventView, patchEvents: eventView } as const;

/** Subscriptions: async iterators over this replica's event fan-out, scoped by cycle id or filtered. */
export function eventResolvers(s: GatewayServices) {
  return {
    Subscription: {
      cycleProgress: {
        subscribe: (_: unknown, a: { cycleId: string }) => s.fanout.pubsub.subscribe('cycle', parseCycleId(a.cycleId)),
        resolve: SUBSCRIPTION_PAYLOADS.cycleProgress,
      },
      patchEvents: {
        subscribe: (_: unknown, a: { filter?: PatchEventFilter | null }) => {
          const f = a.filter ?? {};
          return pipe(s.fanout.pubsub.subscribe('patch-event'), filter((e: RecordedEvent) => matchesFilter(e, f, s.membership)));
        },
        resolve: SUBSCRIPTION_PAYLOADS.patchEvents,
      },
    },
  };
}
