import { Controller, Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { PLANNER_COMMANDS, type CommandEnvelope } from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import type { NatsBus } from '@patchbay/messaging';
import { BUS, ConfigError, EVENT_STORE, LOGGER } from '@patchbay/service-host';
import type { Logger } from '@patchbay/telemetry';
import { Planner, plannerSubject } from './planner.js';

/** Settings read from the environment (see the README); a bad value is `CONFIG_INVALID`. */
export function plannerOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): { maxActiveCycles: number; tickMs: number } {
  const int = (name: string, fallback: number, min: number) => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min}`, { variable: name });
    return n;
  };
  return { maxActiveCycles: int('PLANNER_MAX_ACTIVE_CYCLES', 1, 1), tickMs: int('PLANNER_TICK_MS', 1000, 50) };
}

/**
 * Holds the planner for the Nest application. The host's store, bus and logger live in its root
 * module, which an imported module cannot inject directly, so they are looked up once at bootstrap.
 */
@Injectable()
export class PlannerRuntime implements OnApplicationBootstrap, OnApplicationShutdown {
  private planner: Planner | undefined;

  constructor(@Inject(ModuleRef) private readonly moduleRef: ModuleRef) {}

  async onApplicationBootstrap(): Promise<void> {
    const store = this.moduleRef.get<EventStore>(EVENT_STORE, { strict: false });
    const bus = this.moduleRef.get<NatsBus>(BUS, { strict: false });
    const logger = this.moduleRef.get<Logger>(LOGGER, { strict: false });
    this.planner = new Planner(store, bus, { ...plannerOptionsFromEnv(), log: (level, message, fields) => logger[level](fields ?? {}, message) });
    await this.planner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.planner?.stop();
  }

  /** The running planner (after bootstrap). */
  get(): Planner {
    if (!this.planner) throw new Error('planner not started');
    return this.planner;
  }
}

/** The planner's commands on `patchbay.cmd.planner.<name>`. */
@Controller()
export class PlannerController {
  constructor(@Inject(PlannerRuntime) private readonly runtime: PlannerRuntime) {}

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.request))
  request(@Payload() envelope: CommandEnvelope) {
    return this.runtime.get().request(envelope);
  }

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.emergency))
  emergency(@Payload() envelope: CommandEnvelope) {
    return this.runtime.get().emergency(envelope);
  }

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.preview))
  preview(@Payload() envelope: CommandEnvelope) {
    return this.runtime.get().preview(envelope);
  }

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.approve))
  approve(@Payload() envelope: CommandEnvelope) {
    return this.runtime.get().approve(envelope);
  }

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.pause))
  pause(@Payload() envelope: CommandEnvelope) {
    return this.runtime.get().pause(envelope);
  }

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.resume))
  resume(@Payload() envelope: CommandEnvelope) {
    return this.runtime.get().resume(envelope);
  }

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.abort))
  abort(@Payload() envelope: CommandEnvelope) {
    return this.runtime.get().abort(envelope);
  }

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.get))
  get(@Payload() envelope: CommandEnvelope) {
    return this.runtime.get().get(envelope);
  }

  @MessagePattern(plannerSubject(PLANNER_COMMANDS.list))
  list() {
    return this.runtime.get().list();
  }
}
