import { ValidationError } from '@patchbay/contracts';
import type { GatewayContext, GatewayServices } from '../../context.js';
import { NotFoundError } from '../../errors.js';
import type { DeliveryStatus } from '../../webhooks/registry.js';

/** Webhook subscriptions (admin) and their delivery log. */
export function webhookResolvers(s: GatewayServices) {
  return {
    Query: {
      webhookSubscriptions: () => s.webhooks.list(),
      webhookDeliveries: (_: unknown, a: { subscriptionId: string; status?: DeliveryStatus | null; first?: number | null }) => {
        if (a.first !== undefined && a.first !== null && (a.first < 1 || a.first > 1000)) throw new ValidationError('first: 1 to 1000', { first: a.first });
        if (!s.webhooks.getWithSecret(a.subscriptionId)) throw new NotFoundError('webhook subscription', a.subscriptionId);
        return s.webhooks.deliveries(a.subscriptionId, a.status, a.first ?? 100);
      },
    },
    Mutation: {
      createWebhookSubscription: (_: unknown, a: { input: { url: string; eventTypes?: string[]; groups?: string[]; tiers?: string[]; secret?: string } }, ctx: GatewayContext) => s.webhooks.create(a.input, ctx.principal!.actor),
      deleteWebhookSubscription: (_: unknown, a: { id: string }) => s.webhooks.delete(a.id),
    },
  };
}
