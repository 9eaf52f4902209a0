import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NatsServer } from '@patchbay/testing';

/** The processes of the stack that a fault may kill. */
export const SERVICES = ['inventory', 'policy', 'planner', 'executor', 'relay', 'gateway'] as const;
export type ServiceName = (typeof SERVICES)[number];

const ENTRIES: Record<ServiceName, () => string> = {
  inventory: () => require.resolve('@patchbay/inventory/dist/main.js'),
  policy: () => require.resolve('@patchbay/policy/dist/main.js'),
  planner: () => require.resolve('@patchbay/planner/dist/main.js'),
  executor: () => require.resolve('@patchbay/executor/dist/main.js'),
  relay: () => require.resolve('@patchbay/messaging/dist/relay-main.js'),
  gateway: () => require.resolve('@patchbay/gateway/dist/main.js'),
};

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
  lines: string[];
}

export interface StackOptions {
  dataDir: string;
  /** Where the SQLite event store lives (default `<dataDir>/events.db`), e.g. on a small file system. */
  sqlitePath?: string;
  /** Extra environment for every process. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The whole stack as separate real processes (nats-server, inventory, policy, planner, executor,
 * relay, gateway), each of which can be SIGKILLed and started again by pid, as a crash and an
 * operator's (or orchestrator's) restart would. Unlike `patchbay up`, nothing restarts on its own:
 * the trial decides when a killed process comes back.
 */
export class ReliabilityStack {
  readonly procs = new Map<ServiceName, Proc>();
  readonly adminToken = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  gatewayUrl = '';
  private readonly env: NodeJS.ProcessEnv;
  private readonly logDir: string;

  private constructor(
    readonly nats: NatsServer,
    readonly opts: StackOptions,
  ) {
    this.logDir = join(opts.dataDir, 'logs');
    mkdirSync(this.logDir, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['EVENTSTORE_URL'];
    delete env['NODE_TEST_CONTEXT'];
    this.env = {
      ...env,
      NATS_URL: nats.url,
      PATCHBAY_DATA_DIR: opts.dataDir,
      EVENTSTORE_SQLITE_PATH: this.storePath,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: '0',
      PATCHBAY_ADMIN_TOKEN: this.adminToken,
      LOG_LEVEL: 'warn',
      // The simulated shell runs simple commands only: no `timeout -k` wrapper, no reboot marker script.
      PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REBOOT_MARKER: 'false',
      PATCHBAY_EXECUTOR_ID: 'executor-reliability',
      PATCHBAY_EXECUTOR_CONCURRENCY: '8',
      PATCHBAY_EXECUTOR_RESUME_INTERVAL_MS: '1000',
      PATCHBAY_EXECUTOR_ACK_WAIT_MS: '3000',
      PATCHBAY_EXECUTOR_STOP_GRACE_MS: '200',
      PLANNER_TICK_MS: '200',
      GATEWAY_RATE_LIMIT_PER_MINUTE: '0',
      ...opts.env,
    };
  }

  get storePath(): string {
    return this.opts.sqlitePath ?? join(this.opts.dataDir, 'events.db');
  }

  static async start(opts: StackOptions): Promise<ReliabilityStack> {
    mkdirSync(opts.dataDir, { recursive: true });
    const nats = await NatsServer.start({ storeDir: join(opts.dataDir, 'nats') });
    const stack = new ReliabilityStack(nats, opts);
    try {
      for (const s of SERVICES) await stack.startService(s);
      await stack.waitHealthy();
    } catch (e) {
      await stack.stop();
      throw e;
    }
    return stack;
  }

  pid(name: ServiceName): number | undefined {
    return this.procs.get(name)?.child.pid;
  }

  /** Starts one process; for the gateway, waits until it prints the URL it listens on. */
  async startService(name: ServiceName): Promise<void> {
    const existing = this.procs.get(name);
    if (existing && existing.child.exitCode === null && existing.child.signalCode === null) throw new Error(`${name} is already running`);
    const args = name === 'relay' ? ['--store', this.storePath, '--nats', this.nats.url] : [];
    const child = spawn(process.execPath, [ENTRIES[name](), ...args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const logFile = join(this.logDir, `${name}.log`);
    appendFileSync(logFile, `--- start pid ${child.pid} at ${new Date().toISOString()}\n`);
    let gatewayUrl: ((url: string) => void) | undefined;
    const urlP = new Promise<string>((r) => (gatewayUrl = r));
    let buf = '';
    const onData = (d: Buffer) => {
      appendFileSync(logFile, d);
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (lines.length > 400) lines.shift();
        if (name === 'gateway' && line.startsWith('{')) {
          try {
            const rec = JSON.parse(line) as { msg?: string; url?: string };
            if (rec.msg === 'listening' && rec.url) gatewayUrl?.(rec.url);
          } catch {
            /* not JSON */
          }
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.procs.set(name, { child, exited, lines });
    if (name === 'gateway') {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`gateway printed no URL in 60 s:\n${lines.join('\n')}`)), 60_000).unref(),
      );
      const died = exited.then(() => Promise.reject(new Error(`gateway exited before listening:\n${lines.join('\n')}`)));
      died.catch(() => undefined);
      this.gatewayUrl = await Promise.race([urlP, timeout, died]);
    }
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill(name: ServiceName): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  /** Every stack process still running (a process that died on its own is a finding). */
  dead(): ServiceName[] {
    return [...this.procs].filter(([, p]) => p.child.exitCode !== null || p.child.signalCode !== null).map(([n]) => n);
  }

  logTail(name: ServiceName, n = 30): string {
    return (this.procs.get(name)?.lines ?? []).slice(-n).join('\n');
  }

  /** Polls the gateway's health query until every service answers ok. */
  async waitHealthy(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const r = await fetch(this.gatewayUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ health { status services { service status error } } }' }),
        });
        const body = (await r.json()) as { data?: { health: { status: string } } };
        if (body.data?.health.status === 'ok') return;
        last = JSON.stringify(body);
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`stack not healthy after ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A GraphQL request with the admin token. */
  async graphql<T = unknown>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<{ data?: T; errors?: Array<{ message: string; extensions?: { code?: string; details?: unknown } }>; status: number }> {
    const r = await fetch(this.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.adminToken}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await r.text();
    try {
      return { ...(JSON.parse(text) as object), status: r.status };
    } catch {
      return { status: r.status, errors: [{ message: text }] };
    }
  }

  /** SIGTERM to every process (SIGKILL after 10 s), then nats-server. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.procs.values()].map(async ({ child, exited }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
    await this.nats.stop();
  }
}
