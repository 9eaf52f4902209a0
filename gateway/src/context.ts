import type { EventStore } from '@patchbay/event-store';
import type { NatsBus } from '@patchbay/messaging';
import type { ReadStore } from '@patchbay/read-store';
import type { ReadModels } from './read/projections.js';
import type { Principal } from './auth/roles.js';
import type { ApiTokenRegistry } from './auth/tokens.js';
import type { ExportSigner } from './audit/export.js';
import type { EventFanout } from './events/fanout.js';
import type { CycleMembership } from './events/filter.js';
import type { WebhookRegistry } from './webhooks/registry.js';

/** What resolvers work with: the gateway's ports, built once at start. */
export interface GatewayServices {
  store: EventStore;
  bus: NatsBus;
  tokens: ApiTokenRegistry;
  webhooks: WebhookRegistry;
  fanout: EventFanout;
  membership: CycleMembership;
  signer: ExportSigner;
  commandTimeoutMs: number;
  /** The query side: projected read models. */
  readStore: ReadStore;
  readModels: ReadModels;
}

/** Per-request GraphQL context: the authenticated caller, if any. */
export interface GatewayContext {
  principal?: Principal;
}
