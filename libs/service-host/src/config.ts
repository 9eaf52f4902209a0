import { resolve } from 'node:path';
import { z } from 'zod';
import { PatchbayError } from '@patchbay/contracts';
import { heapGrowingPercentOf } from '@patchbay/telemetry';

/** A setting is missing or malformed; the message names the variable. */
export class ConfigError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CONFIG_INVALID', message, details);
  }
}

const url = (schemes: string[]) =>
  z.string().refine((v) => {
    try {
      return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
    } catch {
      return false;
    }
  }, `must be a URL with scheme ${schemes.join(' or ')}`);

const envSchema = z.object({
  NATS_URL: z
    .string()
    .refine((v) => v.split(',').every((u) => /^(nats|tls):\/\/[^\s/]+(:\d+)?$/.test(u.trim())), 'must be nats://host:port[,nats://host:port...]')
    .optional(),
  EVENTSTORE_URL: url(['esdb', 'esdb+discover', 'kurrentdb', 'kurrentdb+discover', 'kurrent', 'kurrent+discover']).optional(),
  PATCHBAY_DATA_DIR: z.string().min(1).default('.patchbay'),
  EVENTSTORE_SQLITE_PATH: z.string().min(1).optional(),
  PATCHBAY_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().max(600_000).default(10_000),
  GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PATCHBAY_NODE_SEMI_SPACE_MB: z.coerce.number().int().min(0).max(256).default(16),
  PATCHBAY_UP_LAYOUT: z.enum(['separate', 'grouped']).default('separate'),
});

/** Everything a Patchbay process reads from its environment (see deploy/CONFIGURATION.md). */
export interface PatchbayConfig {
  natsUrl: string | undefined;
  eventStoreUrl: string | undefined;
  dataDir: string;
  /** Path of the embedded SQLite event store (used when no EVENTSTORE_URL is given). */
  sqlitePath: string;
  commandTimeoutMs: number;
  gatewayHost: string;
  gatewayPort: number;
  logLevel: string;
  /**
   * V8 semi-space size (MB) of the processes `patchbay up` starts (`--max-semi-space-size`); 0
   * leaves V8's default, which grows the young generation to 128 MB per process under load.
   */
  nodeSemiSpaceMb: number;
  /**
   * V8's heap growing factor of every Patchbay process, as 1 + percent/100 (0: V8's own, up to
   * 4×); applied by each process at start (`manageHeap`).
   */
  nodeHeapGrowingPercent: number;
  /**
   * How `patchbay up` lays the stack out in processes: `separate` (one per service, the relay and
   * the gateway) or `grouped` (inventory, policy, planner and the relay share one process; the
   * executor and the gateway keep their own). The services talk only through NATS either way.
   */
  upLayout: 'separate' | 'grouped';
}

/** Parses and validates the environment; throws `ConfigError` naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): PatchbayConfig {
  const r = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, { problems });
  }
  const c = r.data;
  // Read by the same parser as the relay's, which does not load this configuration.
  let nodeHeapGrowingPercent: number;
  try {
    nodeHeapGrowingPercent = heapGrowingPercentOf(env);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`, { problems: [(err as Error).message] });
  }
  const dataDir = resolve(c.PATCHBAY_DATA_DIR);
  const sqlitePath = resolve(c.EVENTSTORE_SQLITE_PATH ?? resolve(dataDir, 'events.db'));
  return {
    natsUrl: c.NATS_URL,
    eventStoreUrl: c.EVENTSTORE_URL,
    dataDir,
    sqlitePath,
    commandTimeoutMs: c.PATCHBAY_COMMAND_TIMEOUT_MS,
    gatewayHost: c.GATEWAY_HOST,
    gatewayPort: c.GATEWAY_PORT,
    logLevel: c.LOG_LEVEL,
    nodeSemiSpaceMb: c.PATCHBAY_NODE_SEMI_SPACE_MB,
    nodeHeapGrowingPercent,
    upLayout: c.PATCHBAY_UP_LAYOUT,
  };
}

/** Like `loadConfig` but insists on a bus URL (every service needs one). */
export function requireNatsUrl(config: PatchbayConfig): string {
  if (!config.natsUrl) throw new ConfigError('NATS_URL is required (e.g. nats://127.0.0.1:4222); `patchbay up` sets it for the services it starts');
  return config.natsUrl;
}
