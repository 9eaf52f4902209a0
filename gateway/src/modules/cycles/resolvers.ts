import { approveCycleCommandSchema, cycleReasonCommandSchema, cycleRefCommandSchema, emergencyCycleCommandSchema, PLANNER_COMMANDS, requestCycleCommandSchema } from '@patchbay/contracts';
import type { GatewayContext, GatewayServices } from '../../context.js';
import { present, sendCommand, validated } from '../commands/send.js';

type Args = Record<string, unknown>;

/**
 * Cycle commands, forwarded to the planner over NATS with the caller's identity as `actor` (the
 * planner decides, e.g. that a requester cannot approve their own cycle); its error codes come
 * back unchanged. Input is checked with the contracts' schemas first.
 */
export function cycleResolvers(s: GatewayServices) {
  const send = (name: string, schema: Parameters<typeof validated>[0], a: Args, ctx: GatewayContext) => sendCommand(s, 'planner', name, validated(schema, present(a)), ctx);
  return {
    Mutation: {
      requestCycle: (_: unknown, a: Args, ctx: GatewayContext) => send(PLANNER_COMMANDS.request, requestCycleCommandSchema, a, ctx),
      requestEmergencyCycle: (_: unknown, a: Args, ctx: GatewayContext) => send(PLANNER_COMMANDS.emergency, emergencyCycleCommandSchema, a, ctx),
      approveCycle: (_: unknown, a: Args, ctx: GatewayContext) => send(PLANNER_COMMANDS.approve, approveCycleCommandSchema, a, ctx),
      pauseCycle: (_: unknown, a: Args, ctx: GatewayContext) => send(PLANNER_COMMANDS.pause, cycleReasonCommandSchema, a, ctx),
      resumeCycle: (_: unknown, a: Args, ctx: GatewayContext) => send(PLANNER_COMMANDS.resume, cycleRefCommandSchema, a, ctx),
      abortCycle: (_: unknown, a: Args, ctx: GatewayContext) => send(PLANNER_COMMANDS.abort, cycleReasonCommandSchema, a, ctx),
    },
  };
}
