import { randomUUID } from 'node:crypto';
import { commandSubject, ValidationError, type ServiceName } from '@patchbay/contracts';
import type { z } from 'zod';
import type { GatewayContext, GatewayServices } from '../../context.js';

/** What a mutation that sends a command answers: the command id, the id it produced, the service's reply. */
export interface CommandAnswer {
  commandId: string;
  id: string | null;
  result: unknown;
}

/** The id a service's reply names (`id`, `cycleId`, `endpointId`, `groupId`, `policyId`, `workflowId`). */
function idOf(result: unknown): string | null {
  if (!result || typeof result !== 'object') return null;
  const r = result as Record<string, unknown>;
  for (const k of ['id', 'cycleId', 'endpointId', 'groupId', 'policyId', 'workflowId', 'source']) if (typeof r[k] === 'string') return r[k] as string;
  return null;
}

/** Checks `input` against a contract schema at the edge; a bad one is `VALIDATION_FAILED` with the issues. */
export function validated<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new ValidationError(`invalid input: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, { issues });
  }
  return r.data;
}

/** Drops absent GraphQL arguments, so the services' defaults apply. */
export const present = (payload: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined && v !== null));

/**
 * Sends one command to a service over NATS (request/reply `patchbay.cmd.<service>.<name>`) with the
 * caller as `actor`; the service's error comes back as the same `PatchbayError` (code, details).
 */
export async function sendCommand(s: GatewayServices, service: ServiceName, name: string, payload: unknown, ctx: GatewayContext): Promise<CommandAnswer> {
  const commandId = randomUUID();
  const result = await s.bus.request(commandSubject(service, name), { commandId, actor: ctx.principal!.actor, payload }, { timeoutMs: s.commandTimeoutMs });
  return { commandId, id: idOf(result), result };
}
