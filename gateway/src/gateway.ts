import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Module, type INestApplicationContext, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { commandSubject, HEALTH_COMMAND, healthReplySchema, SERVICE_NAMES, type HealthReply } from '@patchbay/contracts';
import { NatsBus } from '@patchbay/messaging';
import { loadConfig, openConfiguredStore, requireNatsUrl, type PatchbayConfig } from '@patchbay/service-host';
import type { EventStore } from '@patchbay/event-store';
import { createLogger, startTelemetry, type Logger } from '@patchbay/telemetry';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { startGatewayServer, type GatewayServer } from './server.js';
import { loadGatewaySettings, type GatewaySettings } from './settings.js';
import { openGatewayDb } from './store.js';
import { ApiTokenRegistry } from './auth/tokens.js';
import { WebhookRegistry } from './webhooks/registry.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { EventFanout } from './events/fanout.js';
import { CycleMembership } from './events/filter.js';
import { loadExportSigner } from './audit/export.js';
import { startReadModelsThread, type ReadModelsThread } from './read/thread.js';
import type { GatewayServices } from './context.js';

const GATEWAY_DEPS = Symbol.for('patchbay.GatewayDeps');
interface GatewayDeps {
  config: PatchbayConfig;
  bus: NatsBus;
  store: EventStore;
  logger: Logger;
  settings: GatewaySettings;
  services: GatewayServices;
  readThread: ReadModelsThread;
}

/** Owns the HTTP server: started when the Nest application boots, closed when it shuts down. */
@Injectable()
class GatewayHttp implements OnApplicationBootstrap, OnApplicationShutdown {
  server: GatewayServer | undefined;
  constructor(@Inject(GATEWAY_DEPS) private readonly deps: GatewayDeps) {}

  async onApplicationBootstrap(): Promise<void> {
    const { bus, config, store, settings, services, logger, readThread } = this.deps;
    this.server = await startGatewayServer({
      settings,
      ports: services,
      onInternalError: (err) => logger.error({ error: (err as Error)?.message }, 'WebSocket connection closed on an internal error'),
      host: config.gatewayHost,
      port: config.gatewayPort,
      services: SERVICE_NAMES,
      probe: async (service): Promise<HealthReply> => {
        const reply = await bus.request(commandSubject(service as (typeof SERVICE_NAMES)[number], HEALTH_COMMAND), { commandId: randomUUID(), actor: 'gateway', payload: {} }, { timeoutMs: 2000 });
        return healthReplySchema.parse(reply);
      },
      selfCheck: () => ({
        service: 'gateway',
        status: bus.isClosed || !readThread.alive ? 'degraded' : 'ok',
        pid: process.pid,
        uptimeSeconds: process.uptime(),
        version: '0.1.0',
        checks: { bus: { ok: !bus.isClosed }, eventStore: { ok: Boolean(store) }, readModels: { ok: readThread.alive } },
      }),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}

export interface RunningGateway {
  readonly url: string;
  /** graphql-ws endpoint (same port). */
  readonly wsUrl: string;
  /** The admin token generated on this start (first start without PATCHBAY_ADMIN_TOKEN), else undefined. */
  readonly bootstrapToken: string | undefined;
  readonly app: INestApplicationContext;
  close(): Promise<void>;
}

/**
 * Boots the gateway: a Nest application hosting graphql-yoga, talking to the services over NATS,
 * API tokens kept as events in the store, its own small database (`<data dir>/gateway.db`:
 * webhook subscriptions and deliveries), the event fan-out
 * for subscriptions and the webhook dispatcher. On the first start without
 * `PATCHBAY_ADMIN_TOKEN` an admin token is generated, printed once on stderr and returned.
 */
export async function startGateway(config: PatchbayConfig = loadConfig(), settings: GatewaySettings = loadGatewaySettings()): Promise<RunningGateway> {
  const telemetry = startTelemetry({ serviceName: 'patchbay-gateway' });
  const logger = createLogger('gateway', { level: config.logLevel });
  const closers: Array<() => unknown> = [() => telemetry.shutdown()];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const db: DatabaseSync = openGatewayDb(join(config.dataDir, 'gateway.db'));
    closers.push(() => db.close());
    const signer = loadExportSigner(settings.auditSigningKeyFile ?? join(config.dataDir, 'audit-signing-key.pem'));
    const store = await openConfiguredStore(config);
    closers.push(() => store.close());
    const tokens = new ApiTokenRegistry(store);
    const bootstrapToken = await tokens.bootstrap(settings.adminToken);
    const bus = await NatsBus.connect({ servers: requireNatsUrl(config).split(','), name: `patchbay-gateway-${process.pid}`, requestTimeoutMs: config.commandTimeoutMs });
    closers.push(() => bus.close());
    const fanout = new EventFanout(bus, (err) => logger.warn({ code: (err as { code?: string }).code }, 'undecodable event skipped by the fan-out'));
    const membership = new CycleMembership(store);
    fanout.onEvent((e) => membership.observe(e));
    await fanout.start();
    closers.push(() => fanout.stop());
    const webhooks = new WebhookRegistry(db);
    const dispatcher = new WebhookDispatcher({
      bus,
      registry: webhooks,
      membership,
      maxAttempts: settings.webhookMaxAttempts,
      backoffMs: settings.webhookBackoffMs,
      timeoutMs: settings.webhookTimeoutMs,
      log: (level, msg, fields) => logger[level](fields ?? {}, msg),
    });
    await dispatcher.start();
    closers.push(() => dispatcher.stop());
    // The read models (projections and the read store) run in a thread of their own, at a lower
    // priority: their bursts of work never hold the loop that serves subscribers and queries.
    const readThread = await startReadModelsThread({
      config,
      readStore: { READ_STORE_PATH: join(config.dataDir, 'read-store.jsonl'), ...settings.readStore },
      nice: settings.readModelsNice,
      onExit: (err) => logger.error({ code: 'READ_STORE_UNAVAILABLE', error: err.message }, 'the read models thread stopped: queries fail until the gateway is restarted'),
    });
    closers.push(() => readThread.close());
    const { readStore, readModels } = readThread;
    const services: GatewayServices = { store, bus, tokens, webhooks, fanout, membership, signer, commandTimeoutMs: config.commandTimeoutMs, readStore, readModels };
    @Module({ providers: [{ provide: GATEWAY_DEPS, useValue: { config, bus, store, logger, settings, services, readThread } satisfies GatewayDeps }, GatewayHttp] })
    class GatewayModule {}
    const app = await NestFactory.createApplicationContext(GatewayModule, { logger: false });
    await app.init();
    closers.push(() => app.close());
    const server = app.get(GatewayHttp).server!;
    if (bootstrapToken && settings.printBootstrapToken) {
      // The only time this token is shown: stored hashed, it cannot be recovered later.
      process.stderr.write(`${JSON.stringify({ level: 'warn', service: 'gateway', msg: 'admin API token created (shown once; store it now)', token: bootstrapToken })}\n`);
    }
    logger.info({ url: server.url }, 'gateway ready');
    return { url: server.url, wsUrl: server.wsUrl, bootstrapToken, app, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}


