import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';

export interface NatsServerOptions {
  /** Port to listen on; a free one when omitted. Kept across `restart()`. */
  port?: number;
  /** JetStream store directory; a fresh temp dir when omitted. Kept across `restart()`. */
  storeDir?: string;
  /** Extra lines for the server's config file (e.g. a `cluster { ... }` block). */
  extraConfig?: string;
  serverName?: string;
  /** Path of the nats-server binary; `NATS_SERVER_BIN` or `nats-server` on PATH by default. */
  binary?: string;
}

export class NatsServerMissingError extends Error {
  readonly code = 'NATS_SERVER_MISSING';
  constructor(binary: string) {
    super(`nats-server not found (looked for "${binary}"). Install it with: apt-get install -y nats-server  (or set NATS_SERVER_BIN, or give NATS_URL of a running server)`);
  }
}

/**
 * A real nats-server with JetStream, started as a child process on a free port. Tests start their
 * own so they can kill and restart it; `patchbay up` uses the same class for the embedded bus.
 */
export class NatsServer {
  private child: ChildProcess | undefined;
  private ownsStoreDir = false;
  private constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly opts: NatsServerOptions,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const binary = opts.binary ?? process.env['NATS_SERVER_BIN'] ?? 'nats-server';
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    if (probe.error) throw new NatsServerMissingError(binary);
    const port = opts.port ?? (await freePort());
    const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'patchbay-nats-'));
    const server = new NatsServer(port, storeDir, { ...opts, binary });
    server.ownsStoreDir = !opts.storeDir;
    await server.spawn();
    return server;
  }

  private async spawn(): Promise<void> {
    mkdirSync(this.storeDir, { recursive: true });
    const conf = join(this.storeDir, 'nats.conf');
    writeFileSync(
      conf,
      [
        `listen: 127.0.0.1:${this.port}`,
        `server_name: ${this.opts.serverName ?? `patchbay-${this.port}`}`,
        `jetstream { store_dir: ${JSON.stringify(this.storeDir)} }`,
        this.opts.extraConfig ?? '',
      ].join('\n'),
    );
    const child = spawn(this.opts.binary!, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    this.child = child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${stderr}`))));
    await Promise.race([waitForPort(this.port, '127.0.0.1', 15_000), exited]);
    exited.catch(() => undefined);
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Clean shutdown. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    if (this.ownsStoreDir) rmSync(this.storeDir, { recursive: true, force: true });
  }

  /** Starts it again on the same port with the same JetStream store. */
  async restart(): Promise<void> {
    await this.signal('SIGKILL');
    await this.spawn();
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(sig);
    await done;
    this.child = undefined;
  }
}
