import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { Controller, Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { commandSubject, POLICY_COMMANDS, type CommandEnvelope, type RecordedEvent } from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import { SqliteAppliedEventLedger } from '@patchbay/messaging';
import { CONFIG, EVENT_STORE, LOGGER, type PatchbayConfig } from '@patchbay/service-host';
import type { Logger } from '@patchbay/telemetry';
import { openPolicyDatabase } from './endpoint-directory.js';
import { PolicyApplication } from './policy-application.js';

/** File (under the data directory) holding the endpoint directory and the applied-event ledger. */
export const POLICY_DB_FILE = 'policy.db';

/** Owns the policy service's SQLite file and closes it with the application. */
class PolicyRuntime implements OnModuleDestroy {
  constructor(
    readonly app: PolicyApplication,
    private readonly db: DatabaseSync,
    private readonly ledger: SqliteAppliedEventLedger,
    readonly logger: Logger,
  ) {}
  async onModuleDestroy(): Promise<void> {
    await this.app.stop();
    await this.ledger.close();
    if (this.db.isOpen) this.db.close();
  }
}

const cmd = (name: string) => commandSubject('policy', name);

/** The policy service's bus edge: one handler per command, and the endpoint-events consumer. */
@Controller()
class PolicyController {
  private readonly app: PolicyApplication;
  private readonly logger: Logger;
  constructor(@Inject(PolicyRuntime) runtime: PolicyRuntime) {
    this.app = runtime.app;
    // The host's logger, as the runtime found it: a LOGGER provider of this module would shadow the root's and resolve to itself (null).
    this.logger = runtime.logger;
  }

  @MessagePattern(cmd(POLICY_COMMANDS.defineGroup))
  defineGroup(@Payload() e: CommandEnvelope) {
    return this.app.defineGroup(e, 'define');
  }
  @MessagePattern(cmd(POLICY_COMMANDS.updateGroup))
  updateGroup(@Payload() e: CommandEnvelope) {
    return this.app.defineGroup(e, 'update');
  }
  @MessagePattern(cmd(POLICY_COMMANDS.deleteGroup))
  deleteGroup(@Payload() e: CommandEnvelope) {
    return this.app.deleteGroup(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.getGroup))
  getGroup(@Payload() e: CommandEnvelope) {
    return this.app.getGroup(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.listGroups))
  listGroups() {
    return this.app.listGroups();
  }
  @MessagePattern(cmd(POLICY_COMMANDS.explainMembership))
  explain(@Payload() e: CommandEnvelope) {
    return this.app.explain(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.endpointMemberships))
  membershipsOf(@Payload() e: CommandEnvelope) {
    return this.app.membershipsOf(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.definePolicy))
  definePolicy(@Payload() e: CommandEnvelope) {
    return this.app.definePolicy(e, 'define');
  }
  @MessagePattern(cmd(POLICY_COMMANDS.updatePolicy))
  updatePolicy(@Payload() e: CommandEnvelope) {
    return this.app.definePolicy(e, 'update');
  }
  @MessagePattern(cmd(POLICY_COMMANDS.deletePolicy))
  deletePolicy(@Payload() e: CommandEnvelope) {
    return this.app.deletePolicy(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.getPolicy))
  getPolicy(@Payload() e: CommandEnvelope) {
    return this.app.getPolicy(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.listPolicies))
  listPolicies() {
    return this.app.listPolicies();
  }
  @MessagePattern(cmd(POLICY_COMMANDS.nextWindows))
  windows(@Payload() e: CommandEnvelope) {
    return this.app.windows(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.saveWorkflow))
  saveWorkflow(@Payload() e: CommandEnvelope) {
    return this.app.saveWorkflow(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.defineWorkflow))
  defineWorkflow(@Payload() e: CommandEnvelope) {
    return this.app.saveWorkflow(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.updateWorkflow))
  updateWorkflow(@Payload() e: CommandEnvelope) {
    return this.app.saveWorkflow(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.retireWorkflow))
  retireWorkflow(@Payload() e: CommandEnvelope) {
    return this.app.retireWorkflow(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.deleteWorkflow))
  deleteWorkflow(@Payload() e: CommandEnvelope) {
    return this.app.retireWorkflow(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.getWorkflow))
  getWorkflow(@Payload() e: CommandEnvelope) {
    return this.app.getWorkflow(e);
  }
  @MessagePattern(cmd(POLICY_COMMANDS.listWorkflows))
  listWorkflows() {
    return this.app.listWorkflows();
  }
  @MessagePattern(cmd(POLICY_COMMANDS.applyBundle))
  applyBundle(@Payload() e: CommandEnvelope) {
    return this.app.applyBundle(e);
  }

  /**
   * Inventory's endpoint events, through a durable consumer; the ledger makes redeliveries
   * harmless. Retries back off to 30 s and go on for about 45 minutes, so an event store outage
   * delays membership rather than sending endpoint events to the dead-letter stream.
   */
  @EventPattern('patchbay.evt.endpoint.>', { durable: 'endpoint-membership', maxDeliver: 100, backoff: [100, 500, 2000, 5000, 15_000, 30_000] })
  async onEndpointEvent(@Payload() event: RecordedEvent): Promise<void> {
    const r = await this.app.onEndpointEvent(event);
    if (!r.applied) this.logger.debug({ eventId: event.metadata.eventId, type: event.type }, 'endpoint event already applied');
  }
}

/**
 * The policy service's Nest module. The host's providers (event store, config, logger) live in
 * its root module; they are looked up through `ModuleRef` because the root module is not global.
 */
@Module({
  controllers: [PolicyController],
  providers: [
    {
      provide: PolicyRuntime,
      inject: [ModuleRef],
      useFactory: async (ref: ModuleRef) => {
        const store = ref.get<EventStore>(EVENT_STORE, { strict: false });
        const config = ref.get<PatchbayConfig>(CONFIG, { strict: false });
        mkdirSync(config.dataDir, { recursive: true });
        const db = openPolicyDatabase(join(config.dataDir, POLICY_DB_FILE));
        const ledger = new SqliteAppliedEventLedger(db);
        const logger = ref.get<Logger>(LOGGER, { strict: false });
        const app = new PolicyApplication(store, db, ledger, { log: (level, message, fields) => logger[level](fields, message) });
        await app.start();
        return new PolicyRuntime(app, db, ledger, logger);
      },
    },
  ],
})
export class PolicyModule {}
