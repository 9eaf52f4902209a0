import { Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { EventStore } from '@patchbay/event-store';
import type { NatsBus } from '@patchbay/messaging';
import { Ssh2RemoteExecutor, type RemoteExecutor } from '@patchbay/remote';
import { BUS, EVENT_STORE, LOGGER } from '@patchbay/service-host';
import type { Logger } from '@patchbay/telemetry';
import { Executor } from './executor.js';
import { pinnedHostKeyVerifier } from './host-keys.js';
import { loadExecutorSettings, type ExecutorSettings } from './settings.js';

/** Injection tokens of the executor module. */
export const EXECUTOR = Symbol.for('patchbay.executor.Executor');
const EXECUTOR_SETTINGS = Symbol.for('patchbay.executor.Settings');
const EXECUTOR_REMOTE = Symbol.for('patchbay.executor.RemoteExecutor');
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

class ExecutorLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(EXECUTOR) private readonly executor: Executor,
    @Inject(EXECUTOR_REMOTE) private readonly remote: RemoteExecutor,
    @Inject(HOST_LOGGER) private readonly logger: Logger,
    @Inject(EXECUTOR_SETTINGS) private readonly settings: ExecutorSettings,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.executor.start();
    this.logger.info({ executorId: this.settings.executorId, concurrency: this.settings.concurrency }, 'executor consuming released endpoints');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.executor.stop();
    await this.remote.close();
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
        { provide: EXECUTOR_SETTINGS, useFactory: () => ({ ...loadExecutorSettings(), ...(options.settings ?? {}) }) },
        { provide: HOST_STORE, inject: [ModuleRef], useFactory: (ref: ModuleRef) => ref.get<EventStore>(EVENT_STORE, { strict: false }) },
        { provide: HOST_BUS, inject: [ModuleRef], useFactory: (ref: ModuleRef) => ref.get<NatsBus>(BUS, { strict: false }) },
        { provide: HOST_LOGGER, inject: [ModuleRef], useFactory: (ref: ModuleRef) => ref.get<Logger>(LOGGER, { strict: false }) },
        {
          provide: EXECUTOR_REMOTE,
          inject: [HOST_STORE, EXECUTOR_SETTINGS, HOST_LOGGER],
          useFactory: (store: EventStore, s: ExecutorSettings, logger: Logger) =>
            options.remote ??
            new Ssh2RemoteExecutor({
              hostKeyVerifier: pinnedHostKeyVerifier(store),
              remoteProcessControl: s.remoteProcessControl,
              connectTimeoutMs: s.connectTimeoutMs,
              stopGraceMs: s.stopGraceMs,
              ...(s.defaultKeyRef ? { defaultKeyRef: s.defaultKeyRef } : {}),
              log: (level, message, fields) => logger[level](fields, message),
            }),
        },
        {
          provide: EXECUTOR,
          inject: [HOST_STORE, HOST_BUS, EXECUTOR_REMOTE, EXECUTOR_SETTINGS, HOST_LOGGER],
          useFactory: (store: EventStore, bus: NatsBus, remote: RemoteExecutor, s: ExecutorSettings, logger: Logger) =>
            new Executor({
              store,
              bus,
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
              log: (level, fields, message) => logger[level](fields, message),
            }),
        },
        ExecutorLifecycle,
      ],
      exports: [EXECUTOR],
    };
  }
}
