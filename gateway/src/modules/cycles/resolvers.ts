import { randomUUID } from 'node:crypto';
import { commandSubject, PLANNER_COMMANDS } from '@patchbay/contracts';
import type { GatewayContext, GatewayServices } from '../../context.js';

/**
 * Cycle commands, forwarded to the planner over NATS with the caller's identity as `actor` (the
 * planner decides, e.g. that a requester cannot approve their own cycle); its error codes come
 * back unchanged.
 */
export function cycleResolvers(s: GatewayServices) {
  const send = async (name: string, payload: Record<string, unknown>, ctx: GatewayContext) => {
    const commandId = randomUUID();
    const clean = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined && v !== null));
    const result = await s.bus.request(commandSubject('planner', name), { commandId, actor: ctx.principal!.actor, payload: clean }, { timeoutMs: s.commandTimeoutMs });
    return { commandId, result };
  };
  return {
    Mutation: {
      requestCycle: (_: unknown, a: { policyId: string; cycleId?: string }, ctx: GatewayContext) => send(PLANNER_COMMANDS.request, a, ctx),
      requestEmergencyCycle: (_: unknown, a: { policyId: string; emergency: unknown; cycleId?: string }, ctx: GatewayContext) => send(PLANNER_COMMANDS.emergency, a, ctx),
      approveCycle: (_: unknown, a: { cycleId: string; comment?: string }, ctx: GatewayContext) => send(PLANNER_COMMANDS.approve, a, ctx),
      pauseCycle: (_: unknown, a: { cycleId: string; reason: string }, ctx: GatewayContext) => send(PLANNER_COMMANDS.pause, a, ctx),
      resumeCycle: (_: unknown, a: { cycleId: string }, ctx: GatewayContext) => send(PLANNER_COMMANDS.resume, a, ctx),
      abortCycle: (_: unknown, a: { cycleId: string; reason: string }, ctx: GatewayContext) => send(PLANNER_COMMANDS.abort, a, ctx),
    },
  };
}
