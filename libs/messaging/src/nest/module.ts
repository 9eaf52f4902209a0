import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { ValidationError, type CommandEnvelope } from '@patchbay/contracts';
import { NatsBus, type BusLog, type RequestOptions } from '../bus.js';

export interface PatchbayBusModuleOptions {
  /** NATS URL(s). */
  url: string | string[];
  /** Connection name (the service or `gateway`). */
  serviceName: string;
  requestTimeoutMs?: number;
  replicas?: number;
  log?: BusLog;
}

/** Injection token of the module options. */
export const PATCHBAY_BUS_OPTIONS = Symbol.for('patchbay.bus.options');

/**
 * Sends commands the Nest way: `client.send(commandSubject('inventory', HEALTH_COMMAND), envelope)`
 * is an Observable of the result (erroring with the service's `PatchbayError`), and `request`
 * is the same as a Promise. Events are never emitted from here: they come from the event store.
 */
@Injectable()
export class CommandClient extends ClientProxy {
  constructor(@Inject(NatsBus) readonly bus: NatsBus) {
    super();
  }

  /** Sends one command and resolves with its result; see `NatsBus.request`. */
  request<R = unknown>(subject: string, envelope: CommandEnvelope, options?: RequestOptions): Promise<R> {
    return this.bus.request<R>(subject, envelope, options);
  }

  async connect(): Promise<NatsBus> {
    return this.bus;
  }

  close(): void {
    // The bus outlives the client; PatchbayBusModule closes it on shutdown.
  }

  unwrap<T>(): T {
    return this.bus as T;
  }

  override on(): void {}

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    this.bus.request(String(packet.pattern), packet.data as CommandEnvelope).then(
      (response) => callback({ response, isDisposed: true }),
      (err: unknown) => callback({ err, isDisposed: true }),
    );
    return () => undefined;
  }

  protected dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    return Promise.reject(new ValidationError('events are published by the relay from the event store, not emitted by clients', { pattern: String(packet.pattern) }));
  }

  // Nest's default would wrap errors; the caller gets the PatchbayError itself.
  protected override serializeError(err: unknown): unknown {
    return err;
  }
}

@Injectable()
class BusShutdown implements OnApplicationShutdown {
  constructor(@Inject(NatsBus) private readonly bus: NatsBus) {}
  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}

/** Provides a connected `NatsBus` and a `CommandClient` to the whole application. */
@Global()
@Module({})
export class PatchbayBusModule {
  static forRoot(options: PatchbayBusModuleOptions): DynamicModule {
    return {
      module: PatchbayBusModule,
      providers: [
        { provide: PATCHBAY_BUS_OPTIONS, useValue: options },
        {
          provide: NatsBus,
          useFactory: () => NatsBus.connect({ servers: options.url, name: options.serviceName, requestTimeoutMs: options.requestTimeoutMs, replicas: options.replicas, log: options.log }),
        },
        CommandClient,
        BusShutdown,
      ],
      exports: [NatsBus, CommandClient, PATCHBAY_BUS_OPTIONS],
    };
  }
}
