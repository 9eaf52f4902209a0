import { ForbiddenError, UnauthenticatedError } from '../errors.js';

export const ROLES = ['viewer', 'operator', 'approver', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: the token's id, its name and roles. `actor` is what commands and events record. */
export interface Principal {
  tokenId: string;
  name: string;
  roles: readonly Role[];
  actor: string;
}

/** Every role may read the read models. */
const READERS: readonly Role[] = ['viewer', 'operator', 'approver', 'auditor'];

/** Open to everyone, even without a token (liveness probes). */
export const PUBLIC = 'public' as const;

/**
 * Operation → roles allowed (admin is always allowed). Every field of Query, Mutation and
 * Subscription must be listed: `guardResolvers` refuses to start with an unlisted one, so a new
 * operation cannot ship unguarded.
 */
export const OPERATION_ROLES: Readonly<Record<string, readonly Role[] | typeof PUBLIC>> = {
  'Query.health': PUBLIC,
  'Query.me': ['viewer', 'operator', 'approver', 'auditor'],
  'Query.apiTokens': [],
  'Mutation.createApiToken': [],
  'Mutation.revokeApiToken': [],
  'Mutation.requestCycle': ['operator'],
  'Mutation.requestEmergencyCycle': ['operator'],
  'Mutation.approveCycle': ['approver'],
  'Mutation.pauseCycle': ['operator'],
  'Mutation.resumeCycle': ['operator'],
  'Mutation.abortCycle': ['operator'],
  'Query.cycleHistory': ['auditor'],
  'Query.cycleAsOf': ['auditor'],
  'Query.verifyCycle': ['auditor'],
  'Query.cycleExport': ['auditor'],
  'Query.auditPublicKey': ['auditor'],
  'Subscription.cycleProgress': ['viewer', 'operator', 'approver', 'auditor'],
  'Subscription.patchEvents': ['viewer', 'operator', 'approver', 'auditor'],
  'Query.webhookSubscriptions': [],
  'Query.webhookDeliveries': [],
  'Mutation.createWebhookSubscription': [],
  'Mutation.deleteWebhookSubscription': [],
  // Read models: every role reads (auditors included).
  'Query.endpoints': READERS,
  'Query.endpoint': READERS,
  'Query.referenceGroups': READERS,
  'Query.referenceGroup': READERS,
  'Query.policies': READERS,
  'Query.policy': READERS,
  'Query.workflowTemplates': READERS,
  'Query.workflowTemplate': READERS,
  'Query.cycles': READERS,
  'Query.cycle': READERS,
  'Query.endpointRuns': READERS,
  'Query.pendingUpdates': READERS,
  'Query.compliance': READERS,
  // Computed by the policy service on request (not a read model), readable by every role.
  'Query.policyWindows': READERS,
  'Mutation.rebuildReadModels': [],
  // Commands to the inventory, policy and planner services.
  'Mutation.importInventory': ['operator'],
  'Mutation.gatherFacts': ['operator'],
  'Mutation.acceptHostKey': ['operator'],
  'Mutation.defineReferenceGroup': ['operator'],
  'Mutation.definePolicy': ['operator'],
  'Mutation.saveWorkflowTemplate': ['operator'],
  'Mutation.applyPolicyBundle': ['operator'],
  'Mutation.previewCycle': ['operator'],
  'Mutation.emergencyCycle': ['operator'],
};

/** Throws `UNAUTHENTICATED` / `FORBIDDEN` unless `principal` may run `operation`. */
export function authorize(operation: string, principal: Principal | undefined): void {
  const allowed = OPERATION_ROLES[operation];
  if (allowed === undefined) throw new ForbiddenError(operation, ['admin']);
  if (allowed === PUBLIC) return;
  if (!principal) throw new UnauthenticatedError();
  if (principal.roles.includes('admin')) return;
  if (!principal.roles.some((r) => allowed.includes(r))) throw new ForbiddenError(operation, [...allowed, 'admin']);
}

/** Every operation `principal` may run, sorted (what `me.operations` answers). */
export function operationsAllowed(principal: Principal | undefined): string[] {
  return Object.keys(OPERATION_ROLES)
    .filter((op) => {
      try {
        authorize(op, principal);
        return true;
      } catch {
        return false;
      }
    })
    .sort();
}

/** Context field the guards read. */
export interface AuthContext {
  principal?: Principal;
}

type ResolverMap = Record<string, Record<string, unknown>>;
type FieldResolver = (parent: unknown, args: unknown, ctx: AuthContext, info: unknown) => unknown;

/**
 * Wraps every root field resolver (and subscription `subscribe`) with the role check from
 * {@link OPERATION_ROLES}; throws at startup for a root field the table does not list.
 */
export function guardResolvers(maps: readonly ResolverMap[]): ResolverMap[] {
  return maps.map((map) => {
    const out: ResolverMap = {};
    for (const [typeName, fields] of Object.entries(map)) {
      if (!['Query', 'Mutation', 'Subscription'].includes(typeName)) {
        out[typeName] = fields;
        continue;
      }
      out[typeName] = {};
      for (const [field, resolver] of Object.entries(fields)) {
        const operation = `${typeName}.${field}`;
        if (!(operation in OPERATION_ROLES)) throw new Error(`operation ${operation} has no entry in OPERATION_ROLES`);
        if (typeName === 'Subscription') {
          const sub = resolver as { subscribe: FieldResolver; resolve?: FieldResolver };
          out[typeName]![field] = {
            ...sub,
            subscribe: (parent: unknown, args: unknown, ctx: AuthContext, info: unknown) => {
              authorize(operation, ctx.principal);
              return sub.subscribe(parent, args, ctx, info);
            },
          };
        } else {
          const fn = resolver as FieldResolver;
          out[typeName]![field] = (parent: unknown, args: unknown, ctx: AuthContext, info: unknown) => {
            authorize(operation, ctx.principal);
            return fn(parent, args, ctx, info);
          };
        }
      }
    }
    return out;
  });
}
