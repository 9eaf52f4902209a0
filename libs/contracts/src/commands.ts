import { z } from 'zod';

/**
 * Command envelope on the bus (NATS request/reply). Every command names who sent it and why,
 * so the events it causes carry correlation and causation ids.
 */
export const commandEnvelopeSchema = z.object({
  /** Unique per command; event ids derive from it so a retried command cannot duplicate events. */
  commandId: z.string().min(1).max(200),
  correlationId: z.string().min(1).max(200).optional(),
  actor: z.string().min(1).max(200),
  payload: z.unknown(),
});
export type CommandEnvelope<P = unknown> = Omit<z.infer<typeof commandEnvelopeSchema>, 'payload'> & { payload: P };

/** Subjects of the bus. Commands are `patchbay.cmd.<service>.<name>`; events `patchbay.evt.<category>.<type>`. */
export const SERVICE_NAMES = ['inventory', 'policy', 'planner', 'executor'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const commandSubject = (service: ServiceName | 'gateway', name: string): string => `patchbay.cmd.${service}.${name}`;
export const eventSubject = (category: string, type: string): string => `patchbay.evt.${category}.${type}`;

/** `system.health`: every service answers it. */
export const healthRequestSchema = z.object({}).strict();
export const healthReplySchema = z.object({
  service: z.string(),
  status: z.enum(['ok', 'degraded']),
  pid: z.number().int(),
  uptimeSeconds: z.number().nonnegative(),
  version: z.string(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })),
});
export type HealthReply = z.infer<typeof healthReplySchema>;
export const HEALTH_COMMAND = 'system.health';
