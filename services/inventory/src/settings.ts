import { z } from 'zod';
import type { HostKeyPolicy } from '@patchbay/contracts';
import { ValidationError } from '@patchbay/contracts';

/** Settings of the inventory service, from its environment. */
export interface InventorySettings {
  /** Host-key trust for endpoints that do not set their own: `explicit` (default) or `tofu`. */
  hostKeyPolicy: HostKeyPolicy;
  /** Gather facts from every active endpoint this often (seconds); 0 turns the schedule off. */
  factsIntervalSeconds: number;
  /** Endpoints gathered at once. */
  factsConcurrency: number;
  /** Timeout of each fact command (ms). */
  factsCommandTimeoutMs: number;
  /** Key reference for endpoints without one (`file:` / `env:`). */
  defaultKeyRef?: string;
  /**
   * libs/remote's `remoteProcessControl`: run commands so that stopping or a timeout ends them on
   * the host too. Off only for endpoints whose shell cannot (the simulated fleet).
   */
  remoteProcessControl: boolean;
}

const schema = z.object({
  PATCHBAY_INVENTORY_HOST_KEY_POLICY: z.enum(['tofu', 'explicit']).default('explicit'),
  PATCHBAY_INVENTORY_FACTS_INTERVAL_S: z.coerce.number().int().min(0).max(7 * 86_400).default(3600),
  PATCHBAY_INVENTORY_FACTS_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  PATCHBAY_INVENTORY_FACTS_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(120_000),
  PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL: z.enum(['true', 'false']).default('true'),
  PATCHBAY_INVENTORY_DEFAULT_KEY_REF: z.string().regex(/^(file:\S+|env:[A-Za-z_][A-Za-z0-9_]*)$/).optional(),
});

/** Reads the settings; a bad value is a `VALIDATION_FAILED` naming the variable. */
export function loadInventorySettings(env: NodeJS.ProcessEnv = process.env): InventorySettings {
  const r = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('PATCHBAY_INVENTORY_') && v !== '')));
  if (!r.success) throw new ValidationError(`invalid inventory settings: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const e = r.data;
  return {
    hostKeyPolicy: e.PATCHBAY_INVENTORY_HOST_KEY_POLICY,
    factsIntervalSeconds: e.PATCHBAY_INVENTORY_FACTS_INTERVAL_S,
    factsConcurrency: e.PATCHBAY_INVENTORY_FACTS_CONCURRENCY,
    factsCommandTimeoutMs: e.PATCHBAY_INVENTORY_FACTS_TIMEOUT_MS,
    remoteProcessControl: e.PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL === 'true',
    ...(e.PATCHBAY_INVENTORY_DEFAULT_KEY_REF ? { defaultKeyRef: e.PATCHBAY_INVENTORY_DEFAULT_KEY_REF } : {}),
  };
}
