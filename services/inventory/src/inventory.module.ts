import { Controller, Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { z } from 'zod';
import {
  acceptHostKeyCommandSchema,
  commandSubject,
  gatherFactsCommandSchema,
  getEndpointCommandSchema,
  importInventoryCommandSchema,
  INVENTORY_COMMANDS,
  listEndpointsCommandSchema,
  registerEndpointCommandSchema,
  retireEndpointCommandSchema,
  setSshIdentityCommandSchema,
  updateLabelsCommandSchema,
  verifyHostKeyCommandSchema,
  PatchbayError,
  ValidationError,
  type CommandEnvelope,
} from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import { Ssh2RemoteExecutor, type RemoteExecutor } from '@patchbay/remote';
import { EVENT_STORE, LOGGER } from '@patchbay/service-host';
import type { Logger } from '@patchbay/telemetry';
import { FactsGatherer } from './facts-gatherer.js';
import { InventoryService } from './inventory-service.js';
import { loadInventorySettings, type InventorySettings } from './settings.js';

/** Injection tokens of the inventory module. */
export const INVENTORY_SETTINGS = Symbol.for('patchbay.inventory.Settings');
export const INVENTORY_SERVICE = Symbol.for('patchbay.inventory.Service');
export const REMOTE_EXECUTOR = Symbol.for('patchbay.inventory.RemoteExecutor');
export const FACTS_GATHERER = Symbol.for('patchbay.inventory.FactsGatherer');
// The host's providers live in its root module, which is not global: they are looked up once through ModuleRef.
const HOST_STORE = Symbol.for('patchbay.inventory.HostEventStore');
const HOST_LOGGER = Symbol.for('patchbay.inventory.HostLogger');

/** Validates a command payload at the bus boundary. */
function payload<S extends z.ZodType>(schema: S, envelope: CommandEnvelope): z.infer<S> {
  const r = schema.safeParse(envelope.payload ?? {});
  if (!r.success) throw new ValidationError(`invalid payload: ${r.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ')}`, { issues: r.error.issues.slice(0, 20) });
  return r.data;
}

const meta = (e: CommandEnvelope) => ({ commandId: e.commandId, actor: e.actor, ...(e.correlationId ? { correlationId: e.correlationId } : {}) });
const subject = (name: string) => commandSubject('inventory', name);
/** Bytes as MiB, rounded, for log fields. */
const mib = (bytes: number) => Math.round(bytes / 1048576);

/** NATS commands `patchbay.cmd.inventory.<name>`. */
@Controller()
export class InventoryController {
  constructor(
    @Inject(INVENTORY_SERVICE) private readonly inventory: InventoryService,
    @Inject(FACTS_GATHERER) private readonly facts: FactsGatherer,
    @Inject(HOST_LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(subject(INVENTORY_COMMANDS.register))
  async register(@Payload() e: CommandEnvelope) {
    const p = payload(registerEndpointCommandSchema, e);
    const r = await this.inventory.execute({ type: 'Register', ...p, ...(p.hostKeyPolicy ? { hostKeyPolicy: p.hostKeyPolicy } : {}) }, meta(e));
    return { endpointId: p.endpointId, revision: r.revision, eventsAppended: r.appended };
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.updateLabels))
  async updateLabels(@Payload() e: CommandEnvelope) {
    const p = payload(updateLabelsCommandSchema, e);
    const r = await this.inventory.execute({ type: 'UpdateLabels', ...p }, meta(e));
    return { endpointId: p.endpointId, labels: r.state.labels, revision: r.revision, eventsAppended: r.appended };
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.setSshIdentity))
  async setSshIdentity(@Payload() e: CommandEnvelope) {
    const p = payload(setSshIdentityCommandSchema, e);
    const r = await this.inventory.execute({ type: 'SetSshIdentity', ...p }, meta(e));
    return { endpointId: p.endpointId, revision: r.revision, eventsAppended: r.appended };
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.retire))
  async retire(@Payload() e: CommandEnvelope) {
    const p = payload(retireEndpointCommandSchema, e);
    const r = await this.inventory.execute({ type: 'Retire', ...p }, meta(e));
    return { endpointId: p.endpointId, revision: r.revision, eventsAppended: r.appended };
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.import))
  async import(@Payload() e: CommandEnvelope) {
    const p = payload(importInventoryCommandSchema, e);
    // Only ids and counts are logged: the file may hold secrets the import drops.
    try {
      const r = await this.inventory.import({ ...p, ...(p.hostKeyPolicy ? { hostKeyPolicy: p.hostKeyPolicy } : {}) }, meta(e));
      this.logger.info({ commandId: e.commandId, actor: e.actor, source: r.source, dryRun: r.dryRun, ...r.summary, eventsAppended: r.eventsAppended }, 'inventory imported');
      return r;
    } catch (err) {
      const details = err instanceof PatchbayError ? { code: err.code, issues: (err.details['total'] as number | undefined) ?? undefined } : { code: 'INTERNAL' };
      this.logger.warn({ commandId: e.commandId, actor: e.actor, file: p.fileName, ...details }, 'inventory import refused');
      throw err;
    }
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.acceptHostKey))
  async acceptHostKey(@Payload() e: CommandEnvelope) {
    const p = payload(acceptHostKeyCommandSchema, e);
    const r = await this.inventory.execute({ type: 'AcceptHostKey', ...p }, meta(e));
    return { endpointId: p.endpointId, pinnedKey: r.state.pinnedKey, revision: r.revision, eventsAppended: r.appended };
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.verifyHostKey))
  async verifyHostKey(@Payload() e: CommandEnvelope) {
    const p = payload(verifyHostKeyCommandSchema, e);
    return { decision: await this.inventory.verifyHostKey(p.endpointId, { algorithm: p.key.algorithm, sha256Fingerprint: p.key.fingerprint, publicKeyBase64: '' }, e.actor) };
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.gatherFacts))
  async gatherFacts(@Payload() e: CommandEnvelope) {
    const p = payload(gatherFactsCommandSchema, e);
    const run = this.facts.gather(p.endpointIds, p.refresh).then((outcomes) => {
      for (const o of outcomes) if (!o.ok) this.logger.warn({ endpointId: o.endpointId, code: o.code, reason: o.message }, 'facts not gathered');
      return outcomes;
    });
    if (!p.wait) {
      run.catch((err: unknown) => this.logger.warn({ err: String(err) }, 'background facts gathering failed'));
      return { started: true, outcomes: [] };
    }
    const outcomes = await run;
    return { outcomes: outcomes.map((o) => (o.ok ? { endpointId: o.endpointId, ok: true, updates: o.facts.updates.length, problems: o.facts.problems.length } : o)) };
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.get))
  async get(@Payload() e: CommandEnvelope) {
    return this.inventory.get(payload(getEndpointCommandSchema, e).endpointId);
  }

  @MessagePattern(subject(INVENTORY_COMMANDS.list))
  async list(@Payload() e: CommandEnvelope) {
    return { endpoints: await this.inventory.list(payload(listEndpointsCommandSchema, e).includeRetired) };
  }
}

/** Starts the fact schedule with the service and stops it (and SSH connections) on shutdown. */
class InventoryLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(FACTS_GATHERER) private readonly facts: FactsGatherer,
    @Inject(REMOTE_EXECUTOR) private readonly remote: RemoteExecutor,
    @Inject(INVENTORY_SETTINGS) private readonly settings: InventorySettings,
    @Inject(HOST_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.facts.start(
      this.settings.factsIntervalSeconds,
      (outcomes) => this.logger.info({ endpoints: outcomes.length, failed: outcomes.filter((o) => !o.ok).length }, 'scheduled facts round done'),
      (err) => this.logger.warn({ err: String(err) }, 'scheduled facts round failed'),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.facts.stop();
    await this.remote.close();
  }
}

/**
 * The inventory service's Nest module: commands over NATS, the SSH executor of libs/remote with
 * this service as its host-key verifier, and the fact schedule.
 */
@Module({
  controllers: [InventoryController],
  providers: [
    { provide: INVENTORY_SETTINGS, useFactory: () => loadInventorySettings() },
    { provide: HOST_STORE, inject: [ModuleRef], useFactory: (ref: ModuleRef) => ref.get<EventStore>(EVENT_STORE, { strict: false }) },
    { provide: HOST_LOGGER, inject: [ModuleRef], useFactory: (ref: ModuleRef) => ref.get<Logger>(LOGGER, { strict: false }) },
    {
      provide: INVENTORY_SERVICE,
      inject: [HOST_STORE, INVENTORY_SETTINGS, HOST_LOGGER],
      useFactory: (store: EventStore, settings: InventorySettings, logger: Logger) => new InventoryService(store, settings.hostKeyPolicy, (level, message, fields) => logger[level](fields, message)),
    },
    {
      provide: REMOTE_EXECUTOR,
      inject: [INVENTORY_SERVICE, INVENTORY_SETTINGS, HOST_LOGGER],
      useFactory: (inventory: InventoryService, settings: InventorySettings, logger: Logger) =>
        new Ssh2RemoteExecutor({
          hostKeyVerifier: (endpointId, presented) => inventory.verifyHostKey(endpointId, presented),
          ...(settings.defaultKeyRef ? { defaultKeyRef: settings.defaultKeyRef } : {}),
          remoteProcessControl: settings.remoteProcessControl,
          log: (level, message, fields) => logger[level](fields, message),
        }),
    },
    {
      provide: FACTS_GATHERER,
      inject: [INVENTORY_SERVICE, REMOTE_EXECUTOR, INVENTORY_SETTINGS, HOST_LOGGER],
      useFactory: (inventory: InventoryService, remote: RemoteExecutor, settings: InventorySettings, logger: Logger) =>
        new FactsGatherer(inventory, remote, {
          concurrency: settings.factsConcurrency,
          commandTimeoutMs: settings.factsCommandTimeoutMs,
          onHeapReleased: (r) =>
            logger.info({ heapBeforeMiB: mib(r.heapBeforeBytes), heapAfterMiB: mib(r.heapAfterBytes), rssBeforeMiB: mib(r.rssBeforeBytes), rssAfterMiB: mib(r.rssAfterBytes), ms: Math.round(r.ms) }, 'memory released after facts'),
        }),
    },
    InventoryLifecycle,
  ],
})
export class InventoryModule {}
