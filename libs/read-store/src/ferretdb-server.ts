import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchbayError } from '@patchbay/contracts';
import { freePort, waitForPort } from '@patchbay/testing';

/** The FerretDB release the integration suite is built and run against. */
export const FERRETDB_VERSION = 'v1.24.2';

/** Where `scripts/build-ferretdb.sh` puts the binary (`PATCHBAY_TOOLS_DIR` or `~/.cache/patchbay/tools`). */
export function defaultFerretDbBinary(env: NodeJS.ProcessEnv = process.env): string {
  const tools = env['PATCHBAY_TOOLS_DIR'] || join(homedir(), '.cache', 'patchbay', 'tools');
  return join(tools, `ferretdb-${FERRETDB_VERSION}`, 'ferretdb');
}

/** `FERRETDB_BIN` when set, else the build script's cache path; undefined when no binary exists. */
export function findFerretDbBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidate = env['FERRETDB_BIN'] || defaultFerretDbBinary(env);
  return existsSync(candidate) ? candidate : undefined;
}

export class FerretDbMissingError extends PatchbayError {
  constructor(binary: string) {
    super(
      'FERRETDB_MISSING',
      `FerretDB binary not found at ${binary}: run libs/read-store/scripts/build-ferretdb.sh (or set FERRETDB_BIN, or MONGODB_URL of a running server)`,
      { binary },
    );
  }
}

export interface FerretDbServerOptions {
  port?: number;
  /** SQLite data and state directory; a fresh temp dir when omitted (removed by `stop()`). Kept across `restart()`. */
  dataDir?: string;
  binary?: string;
}

/**
 * A real FerretDB (MongoDB wire protocol over SQLite) as a child process on a free port, for the
 * read-store integration suite. Mirrors `NatsServer`: kill() as a crash, restart() on the same port
 * and data, stop() to shut down and clean up.
 */
export class FerretDbServer {
  private child: ChildProcess | undefined;
  private ownsDataDir = false;
  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly binary: string,
  ) {}

  get url(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(opts: FerretDbServerOptions = {}): Promise<FerretDbServer> {
    const binary = opts.binary ?? findFerretDbBinary();
    if (!binary || !existsSync(binary)) throw new FerretDbMissingError(binary ?? defaultFerretDbBinary());
    const port = opts.port ?? (await freePort());
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'patchbay-ferretdb-'));
    const server = new FerretDbServer(port, dataDir, binary);
    server.ownsDataDir = !opts.dataDir;
    try {
      await server.spawn();
    } catch (error) {
      if (server.ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  private async spawn(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    const child = spawn(
      this.binary,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${this.dataDir}/`,
        `--state-dir=${this.dataDir}`,
        `--listen-addr=127.0.0.1:${this.port}`,
        '--debug-addr=-',
        '--telemetry=disable',
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    this.child = child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`ferretdb exited with ${code}: ${stderr}`))));
    exited.catch(() => undefined);
    try {
      await Promise.race([waitForPort(this.port, '127.0.0.1', 15_000), exited]);
    } catch (error) {
      await this.signal('SIGKILL');
      throw error;
    }
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Starts it again on the same port with the same data. */
  async restart(): Promise<void> {
    await this.signal('SIGKILL');
    await this.spawn();
  }

  /** Clean shutdown; removes the data directory when this object created it. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
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
