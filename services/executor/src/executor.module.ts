import { Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { EventStore } from '@patchbay/event-store';
import type { NatsBus } from '@patchbay/messaging';
import { Ssh2RemoteExecutor, type RemoteExecutor } from '@patchbay/remote';
import { BUS, EVENT_STORE, LOGGER } from '@patchbay/service-host';
import type { Logger } from '@patchbay/telemetry';
import { Executor, type ExecutorStats } from './executor.js';
import { pinnedHostKeyVerifier } from './host-keys.js';
import { loadExecutorSettings, type ExecutorSettings } from './settings.js';

/** Injection token of the {@link ExecutorHandle}. */
export const EXECUTOR = Symbol.for('patchbay.executor.Executor');
const EXECUTOR_OPTIONS = Symbol.for('patchbay.executor.Options');
// The host's providers live in its root module, which is not global: they are looked up once through ModuleRef.
const HOST_STORE = Symbol.for('patchbay.executor.HostEventStore');
const HOST_BUS = Symbol.for('patchbay.executor.HostBus');
const HOST_LOGGER = Symbol.for('patchbay.executor.HostLogger');

/** What a caller may put in place of the environment's choices (tests, the embedded single process). */
export interface ExecutorModuleOptions {
  settings?: Partial<ExecutorSettings>;
  /** A remote executor to use instead of the ssh2 adapter built from the settings. */
  remote?: RemoteExecutor;
}

/**
 * The running executor inside the Nest application. Settings are read and the executor is built
 * when the application starts (not while Nest wires providers), so a bad setting rejects the
 * start with `CONFIG_INVALID` instead of ending the process from inside Nest.
 */
export class ExecutorHandle implements OnApplicationBootstrap, OnApplicationShutdown {
  private running?: { executor: Executor; remote: RemoteExecutor; settings: ExecutorSettings };

  constructor(
    @Inject(EXECUTOR_OPTIONS) private readonly options: ExecutorModuleOptions,
    @Inject(HOST_STORE) private readonly store: EventStore,
    @Inject(HOST_BUS) private readonly bus: NatsBus,
    @Inject(HOST_LOGGER) private readonly logger: Logger,
  ) {}

  /** The executor, once the application has started. */
  get executor(): Executor {
    if (!this.running) throw new Error('the executor has not started');
    return this.running.executor;
  }

  /** Figures of the running executor. */
  get stats(): ExecutorStats {
    return this.executor.stats;
  }

  async onApplicationBootstrap(): Promise<void> {
    const s: ExecutorSettings = { ...loadExecutorSettings(), ...(this.options.settings ?? {}) };
    const remote =
      this.options.remote ??
      new Ssh2RemoteExecutor({
        hostKeyVerifier: pinnedHostKeyVerifier(this.store),
        remoteProcessControl: s.remoteProcessControl,
        connectTimeoutMs: s.connectTimeoutMs,
        stopGraceMs: s.stopGraceMs,
        ...(s.defaultKeyRef ? { defaultKeyRef: s.defaultKeyRef } : {}),
        log: (level, message, fields) => this.logger[level](fields, message),
      });
    const executor = new Executor({
      store: this.store,
      bus: this.bus,
      remote,
      executorId: s.executorId,
      concurrency: s.concurrency,
      resumeIntervalMs: s.resumeIntervalMs,
      abortPollMs: s.abortPollMs,
      rebootPollMs: s.rebootPollMs,
      rebootMarker: s.rebootMarker,
      ackWaitMs: s.ackWaitMs,
      takeoverAfterMs: s.takeoverAfterMs,
      crashFault: s.crashFault,
      log: (level, fields, message) => this.logger[level](fields, message),
    });
    this.running = { executor, remote, settings: s };
    await executor.start();
    this.logger.info({ executorId: s.executorId, concurrency: s.concurrency }, 'executor consuming released endpoints');
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    await this.running.executor.stop();
    await this.running.remote.close();
  }
}

/** The executor's Nest module: claims released endpoints from the bus and drives their runs. */
@Module({})
export class ExecutorModule {
  /** The module with settings from the environment, overridden by `options`. */
  static forRoot(options: ExecutorModuleOptions = {}): DynamicModule {
    return {
      module: ExecutorModule,
      providers: [
        { provide: EXECUTOR_OPTIONS, useValue: options },
        { provide: HOST_STORE, inject: [ModuleRef], useFactory: (ref: ModuleRef) => ref.get<EventStore>(EVENT_STORE, { strict: false }) },
        { provide: HOST_BUS, inject: [ModuleRef], useFactory: (ref: ModuleRef) => ref.get<NatsBus>(BUS, { strict: false }) },
        { provide: HOST_LOGGER, inject: [ModuleRef], useFactory: (ref: ModuleRef) => ref.get<Logger>(LOGGER, { strict: false }) },
        { provide: EXECUTOR, useClass: ExecutorHandle },
      ],
      exports: [EXECUTOR],
    };
  }
}
