import {
  acceptHostKeyCommandSchema,
  applyBundlePayloadSchema,
  emergencyCycleCommandSchema,
  gatherFactsCommandSchema,
  groupDefinitionPayloadSchema,
  nextWindowsPayloadSchema,
  importInventoryCommandSchema,
  INVENTORY_COMMANDS,
  PLANNER_COMMANDS,
  POLICY_COMMANDS,
  policyDefinitionPayloadSchema,
  previewCycleCommandSchema,
  workflowDefinitionPayloadSchema,
} from '@patchbay/contracts';
import type { GatewayContext, GatewayServices } from '../../context.js';
import { present, sendCommand, validated } from './send.js';

type Args = Record<string, unknown>;

/**
 * Mutations that send the inventory, policy and planner commands with the caller as `actor`.
 * Input is checked with the contracts' schemas first; definitions (groups, policies, templates)
 * are validated by the policy service itself, so their issues keep the service's own codes.
 */
export function commandResolvers(s: GatewayServices) {
  return {
    Query: {
      policyWindows: async (_: unknown, a: { policyId: string; from?: Date | null; count?: number | null }, ctx: GatewayContext) => {
        const payload = validated(nextWindowsPayloadSchema, present({ policyId: a.policyId, from: a.from?.toISOString(), count: a.count }));
        const answer = await sendCommand(s, 'policy', POLICY_COMMANDS.nextWindows, payload, ctx);
        return (answer.result as { windows: unknown[] }).windows;
      },
    },
    Mutation: {
      importInventory: (_: unknown, a: Args, ctx: GatewayContext) => {
        const payload = validated(importInventoryCommandSchema, present({ ...a, format: typeof a['format'] === 'string' ? a['format'].replace('_', '-') : a['format'], defaults: a['defaults'] ? present(a['defaults'] as Args) : undefined }));
        return sendCommand(s, 'inventory', INVENTORY_COMMANDS.import, payload, ctx);
      },
      gatherFacts: (_: unknown, a: Args, ctx: GatewayContext) => sendCommand(s, 'inventory', INVENTORY_COMMANDS.gatherFacts, validated(gatherFactsCommandSchema, present(a)), ctx),
      acceptHostKey: (_: unknown, a: Args, ctx: GatewayContext) => sendCommand(s, 'inventory', INVENTORY_COMMANDS.acceptHostKey, validated(acceptHostKeyCommandSchema, present(a)), ctx),
      defineReferenceGroup: (_: unknown, a: Args, ctx: GatewayContext) => sendCommand(s, 'policy', POLICY_COMMANDS.defineGroup, validated(groupDefinitionPayloadSchema, present(a)), ctx),
      definePolicy: (_: unknown, a: Args, ctx: GatewayContext) => sendCommand(s, 'policy', POLICY_COMMANDS.definePolicy, validated(policyDefinitionPayloadSchema, present(a)), ctx),
      saveWorkflowTemplate: (_: unknown, a: Args, ctx: GatewayContext) => sendCommand(s, 'policy', POLICY_COMMANDS.saveWorkflow, validated(workflowDefinitionPayloadSchema, present(a)), ctx),
      applyPolicyBundle: (_: unknown, a: Args, ctx: GatewayContext) => sendCommand(s, 'policy', POLICY_COMMANDS.applyBundle, validated(applyBundlePayloadSchema, present(a)), ctx),
      previewCycle: (_: unknown, a: Args, ctx: GatewayContext) => sendCommand(s, 'planner', PLANNER_COMMANDS.preview, validated(previewCycleCommandSchema, present(a)), ctx),
      emergencyCycle: (_: unknown, a: Args, ctx: GatewayContext) => sendCommand(s, 'planner', PLANNER_COMMANDS.emergency, validated(emergencyCycleCommandSchema, present(a)), ctx),
    },
  };
}
