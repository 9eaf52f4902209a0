import { z } from 'zod';
import { ConfigError } from '@patchbay/service-host';

const bool = z.enum(['true', 'false', '1', '0', 'on', 'off']).transform((v) => v === 'true' || v === '1' || v === 'on');
const positiveInt = (max: number) => z.coerce.number().int().positive().max(max);

const envSchema = z.object({
  PATCHBAY_ADMIN_TOKEN: z.string().regex(/^pbt_[a-f0-9]{12}_[A-Za-z0-9_-]{32,}$/, 'must look like pbt_<12 hex>_<43 base64url chars> (see gateway/README.md)').optional(),
  GATEWAY_INTROSPECTION: bool.default(false),
  GATEWAY_BATCHING_LIMIT: z.coerce.number().int().min(0).max(100).default(0),
  GATEWAY_MAX_DEPTH: positiveInt(100).default(10),
  GATEWAY_MAX_ALIASES: positiveInt(1000).default(15),
  GATEWAY_MAX_TOKENS: positiveInt(1_000_000).default(2000),
  GATEWAY_MAX_COST: positiveInt(10_000_000).default(5000),
  GATEWAY_MAX_DIRECTIVES: positiveInt(1000).default(20),
  GATEWAY_MAX_BODY_BYTES: positiveInt(100 * 1024 * 1024).default(100_000),
  GATEWAY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(600),
  GATEWAY_AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  GATEWAY_WEBHOOK_MAX_ATTEMPTS: positiveInt(100).default(8),
  GATEWAY_WEBHOOK_BACKOFF_MS: positiveInt(3_600_000).default(1000),
  GATEWAY_WEBHOOK_TIMEOUT_MS: positiveInt(600_000).default(10_000),
  MONGODB_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').optional(),
  MONGODB_DATABASE: z.string().min(1).max(64).optional(),
  READ_STORE_PATH: z.string().min(1).optional(),
  GATEWAY_CONSOLE_DIR: z.string().min(1).optional(),
  GATEWAY_SUBSCRIPTION_FLUSH_MS: z.coerce.number().int().min(0).max(1000).default(10),
  GATEWAY_READ_MODELS_NICE: z.coerce.number().int().min(0).max(19).default(10),
});

/** Gateway-only settings (on top of `PatchbayConfig`); every one has a documented default. */
export interface GatewaySettings {
  /** A fixed admin token instead of one generated on first start. */
  adminToken: string | undefined;
  introspection: boolean;
  /** Largest batched request (array of operations); 0 = batching off. */
  batchingLimit: number;
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxCost: number;
  maxDirectives: number;
  maxBodyBytes: number;
  /** Requests per minute per token (or per IP address without a token); 0 = unlimited. */
  rateLimitPerMinute: number;
  /** PKCS#8 PEM file with the Ed25519 key signing audit exports; default `<data dir>/audit-signing-key.pem`, created when missing. */
  auditSigningKeyFile: string | undefined;
  webhookMaxAttempts: number;
  webhookBackoffMs: number;
  webhookTimeoutMs: number;
  /** Print a generated admin token on stderr (the only time it is shown). */
  printBootstrapToken: boolean;
  /** Where the read models live (`openReadStore`): MongoDB with `MONGODB_URL`, else the embedded store, snapshot `READ_STORE_PATH` (default `<data dir>/read-store.jsonl`, `:memory:` for none). */
  readStore: { MONGODB_URL?: string; MONGODB_DATABASE?: string; READ_STORE_PATH?: string };
  /** Subscription results are written to each connection at most this often (ms; 0: every turn of the event loop). */
  subscriptionFlushMs: number;
  /** Nice value (0–19) of the read models' thread: projection work goes after the subscriber path; 0 keeps the gateway's priority. */
  readModelsNice: number;
  /** The built web console served at `/`: undefined for `gateway/console/dist`, false when `GATEWAY_CONSOLE_DIR=off`. */
  consoleDir?: string | false;
}

/** Reads the gateway settings from the environment; throws `ConfigError` (`CONFIG_INVALID`) naming bad variables. */
export function loadGatewaySettings(env: NodeJS.ProcessEnv = process.env): GatewaySettings {
  const r = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== '' && k in envSchema.shape)));
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid gateway configuration: ${problems.join('; ')}`, { problems });
  }
  const c = r.data;
  return {
    adminToken: c.PATCHBAY_ADMIN_TOKEN,
    introspection: c.GATEWAY_INTROSPECTION,
    batchingLimit: c.GATEWAY_BATCHING_LIMIT,
    maxDepth: c.GATEWAY_MAX_DEPTH,
    maxAliases: c.GATEWAY_MAX_ALIASES,
    maxTokens: c.GATEWAY_MAX_TOKENS,
    maxCost: c.GATEWAY_MAX_COST,
    maxDirectives: c.GATEWAY_MAX_DIRECTIVES,
    maxBodyBytes: c.GATEWAY_MAX_BODY_BYTES,
    rateLimitPerMinute: c.GATEWAY_RATE_LIMIT_PER_MINUTE,
    auditSigningKeyFile: c.GATEWAY_AUDIT_SIGNING_KEY_FILE,
    webhookMaxAttempts: c.GATEWAY_WEBHOOK_MAX_ATTEMPTS,
    webhookBackoffMs: c.GATEWAY_WEBHOOK_BACKOFF_MS,
    webhookTimeoutMs: c.GATEWAY_WEBHOOK_TIMEOUT_MS,
    printBootstrapToken: true,
    consoleDir: c.GATEWAY_CONSOLE_DIR === 'off' ? false : c.GATEWAY_CONSOLE_DIR,
    subscriptionFlushMs: c.GATEWAY_SUBSCRIPTION_FLUSH_MS,
    readModelsNice: c.GATEWAY_READ_MODELS_NICE,
    readStore: Object.fromEntries(Object.entries({ MONGODB_URL: c.MONGODB_URL, MONGODB_DATABASE: c.MONGODB_DATABASE, READ_STORE_PATH: c.READ_STORE_PATH }).filter(([, v]) => v !== undefined)),
  };
}
