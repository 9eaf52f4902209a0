import type { GatewayContext, GatewayServices } from '../../context.js';
import { operationsAllowed } from '../../auth/roles.js';

/** Token administration (admin) and `me` (any role). */
export function authResolvers(s: GatewayServices) {
  return {
    Query: {
      me: (_: unknown, __: unknown, ctx: GatewayContext) => ({ ...ctx.principal!, operations: operationsAllowed(ctx.principal) }),
      apiTokens: () => s.tokens.list(),
    },
    Mutation: {
      createApiToken: (_: unknown, args: { name: string; roles: string[] }, ctx: GatewayContext) => s.tokens.create(args.name, args.roles, ctx.principal!.actor),
      revokeApiToken: (_: unknown, args: { id: string }, ctx: GatewayContext) => s.tokens.revoke(args.id, ctx.principal!.actor),
    },
  };
}
