import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import type { ServiceName } from '@patchbay/contracts';
import { openEventStore, type EventStore } from '@patchbay/event-store';
import { NatsBus, NatsJetStreamTransport, PatchbayRpcExceptionFilter } from '@patchbay/messaging';
import { createLogger, manageHeap, startTelemetry, type Logger, type Telemetry } from '@patchbay/telemetry';
import { loadConfig, requireNatsUrl, type PatchbayConfig } from './config.js';
import { healthController, type HealthCheck } from './health.js';

/** Injection tokens for what every service gets from its host. */
export const EVENT_STORE = Symbol.for('patchbay.EventStore');
export const BUS = Symbol.for('patchbay.NatsBus');
export const LOGGER = Symbol.for('patchbay.Logger');
export const CONFIG = Symbol.for('patchbay.Config');

export interface ServiceDefinition {
  name: ServiceName;
  /** The service's own Nest modules (controllers, providers); the host adds health and infrastructure. */
  imports?: Array<Type<unknown> | DynamicModule>;
  /** Extra readiness checks beyond the bus and the event store. */
  checks?: (ctx: { store: EventStore; bus: NatsBus }) => Record<string, HealthCheck>;
}

export interface RunningService {
  readonly name: ServiceName;
  readonly app: INestMicroservice;
  readonly store: EventStore;
  readonly bus: NatsBus;
  readonly logger: Logger;
  close(): Promise<void>;
}

/** Opens the configured event store, creating the embedded store's directory if needed. */
export async function openConfiguredStore(config: PatchbayConfig): Promise<EventStore> {
  if (!config.eventStoreUrl) mkdirSync(dirname(config.sqlitePath), { recursive: true });
  return openEventStore({ EVENTSTORE_URL: config.eventStoreUrl, EVENTSTORE_SQLITE_PATH: config.sqlitePath, EVENTSTORE_SQLITE_GROUP_COMMIT: process.env['EVENTSTORE_SQLITE_GROUP_COMMIT'] });
}

/**
 * Boots one Patchbay service as a NestJS microservice on the NATS transport: telemetry, JSON
 * logs with trace ids, the event store, the bus, and a health handler that reports both.
 * Several services may be started in one process (`patchbay up --single-process`); they still
 * talk to each other only through NATS.
 */
export async function startService(definition: ServiceDefinition, config: PatchbayConfig = loadConfig()): Promise<RunningService> {
  const telemetry: Telemetry = startTelemetry({ serviceName: `patchbay-${definition.name}` });
  const logger = createLogger(definition.name, { level: config.logLevel });
  const store = await openConfiguredStore(config);
  let bus: NatsBus | undefined;
  try {
    bus = await NatsBus.connect({
      servers: requireNatsUrl(config).split(','),
      name: `patchbay-${definition.name}-${process.pid}`,
      requestTimeoutMs: config.commandTimeoutMs,
      log: (level, message, fields) => logger[level === 'error' ? 'error' : level === 'warn' ? 'warn' : 'debug'](fields ?? {}, message),
    });
    const connectedBus = bus;
    const checks = (): Record<string, HealthCheck> => ({
      bus: () => ({ ok: !connectedBus.isClosed, detail: connectedBus.isClosed ? 'closed' : 'connected' }),
      eventStore: async () => {
        await store.readAll({ maxCount: 1 });
        return { ok: true };
      },
      ...(definition.checks?.({ store, bus: connectedBus }) ?? {}),
    });
    @Module({
      imports: definition.imports ?? [],
      controllers: [healthController(definition.name, checks)],
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: BUS, useValue: connectedBus },
        { provide: LOGGER, useValue: logger },
        { provide: CONFIG, useValue: config },
      ],
      exports: [EVENT_STORE, BUS, LOGGER, CONFIG],
    })
    class ServiceRootModule {}
    Object.defineProperty(ServiceRootModule, 'name', { value: `${definition.name}RootModule` });

    const app = await NestFactory.createMicroservice(ServiceRootModule, {
      strategy: new NatsJetStreamTransport({ bus: connectedBus, serviceName: definition.name }),
      logger: false,
      // Throw instead of exiting: a provider failing at start must reach runServiceProcess, which
      // prints its code and exits 2 for configuration errors (Nest would exit 1 without a word).
      abortOnError: false,
    });
    app.useGlobalFilters(new PatchbayRpcExceptionFilter());
    await app.listen();
    logger.info({ nats: config.natsUrl, eventStore: config.eventStoreUrl ? 'kurrentdb' : config.sqlitePath }, `${definition.name} service ready`);
    let closed = false;
    return {
      name: definition.name,
      app,
      store,
      bus: connectedBus,
      logger,
      close: async () => {
        if (closed) return;
        closed = true;
        await app.close();
        await connectedBus.close();
        await store.close();
        await telemetry.shutdown();
        logger.info(`${definition.name} service stopped`);
      },
    };
  } catch (err) {
    await bus?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    await telemetry.shutdown();
    throw err;
  }
}

/**
 * Entry point for a service's own process: starts it, and stops it cleanly on SIGTERM/SIGINT.
 * A configuration error exits with status 2 and a one-line message naming the variable.
 * `beforeStart` is what only the service's own process does (the executor's CPU priority), not the
 * service run inside another process; what it throws ends the process the same way.
 */
export function runServiceProcess(definition: ServiceDefinition, options: { beforeStart?: () => void } = {}): void {
  let running: RunningService | undefined;
  const stop = async (signal: string) => {
    running?.logger.info({ signal }, 'stopping');
    try {
      await running?.close();
    } finally {
      process.exit(0);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  const started = (async () => {
    const config = loadConfig();
    manageHeap(config.nodeHeapGrowingPercent);
    options.beforeStart?.();
    return startService(definition, config);
  })();
  started.then(
    (r) => (running = r),
    (err: Error & { code?: string }) => {
      process.stderr.write(`${JSON.stringify({ level: 'fatal', service: definition.name, code: err.code ?? 'STARTUP_FAILED', msg: err.message })}\n`);
      process.exit(err.code === 'CONFIG_INVALID' ? 2 : 1);
    },
  );
}
