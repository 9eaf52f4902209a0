import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Module, type INestApplicationContext, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { commandSubject, HEALTH_COMMAND, healthReplySchema, SERVICE_NAMES, type HealthReply } from '@patchbay/contracts';
import { NatsBus } from '@patchbay/messaging';
import { loadConfig, openConfiguredStore, requireNatsUrl, type PatchbayConfig } from '@patchbay/service-host';
import type { EventStore } from '@patchbay/event-store';
import { createLogger, startTelemetry, type Logger } from '@patchbay/telemetry';
import { startGatewayServer, type GatewayServer } from './server.js';

const GATEWAY_DEPS = Symbol.for('patchbay.GatewayDeps');
interface GatewayDeps {
  config: PatchbayConfig;
  bus: NatsBus;
  store: EventStore;
  logger: Logger;
}

/** Owns the HTTP server: started when the Nest application boots, closed when it shuts down. */
@Injectable()
class GatewayHttp implements OnApplicationBootstrap, OnApplicationShutdown {
  server: GatewayServer | undefined;
  constructor(@Inject(GATEWAY_DEPS) private readonly deps: GatewayDeps) {}

  async onApplicationBootstrap(): Promise<void> {
    const { bus, config, store } = this.deps;
    this.server = await startGatewayServer({
      host: config.gatewayHost,
      port: config.gatewayPort,
      services: SERVICE_NAMES,
      probe: async (service): Promise<HealthReply> => {
        const reply = await bus.request(commandSubject(service as (typeof SERVICE_NAMES)[number], HEALTH_COMMAND), { commandId: randomUUID(), actor: 'gateway', payload: {} }, { timeoutMs: 2000 });
        return healthReplySchema.parse(reply);
      },
      selfCheck: () => ({
        service: 'gateway',
        status: bus.isClosed ? 'degraded' : 'ok',
        pid: process.pid,
        uptimeSeconds: process.uptime(),
        version: '0.1.0',
        checks: { bus: { ok: !bus.isClosed }, eventStore: { ok: Boolean(store) } },
      }),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}

export interface RunningGateway {
  readonly url: string;
  readonly app: INestApplicationContext;
  close(): Promise<void>;
}

/** Boots the gateway: a Nest application hosting graphql-yoga, talking to the services over NATS. */
export async function startGateway(config: PatchbayConfig = loadConfig()): Promise<RunningGateway> {
  const telemetry = startTelemetry({ serviceName: 'patchbay-gateway' });
  const logger = createLogger('gateway', { level: config.logLevel });
  const store = await openConfiguredStore(config);
  const bus = await NatsBus.connect({ servers: requireNatsUrl(config).split(','), name: `patchbay-gateway-${process.pid}`, requestTimeoutMs: config.commandTimeoutMs });
  @Module({ providers: [{ provide: GATEWAY_DEPS, useValue: { config, bus, store, logger } satisfies GatewayDeps }, GatewayHttp] })
  class GatewayModule {}
  const app = await NestFactory.createApplicationContext(GatewayModule, { logger: false });
  await app.init();
  const url = app.get(GatewayHttp).server!.url;
  logger.info({ url }, 'gateway ready');
  return {
    url,
    app,
    close: async () => {
      await app.close();
      await bus.close();
      await store.close();
      await telemetry.shutdown();
    },
  };
}


