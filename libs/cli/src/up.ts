import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PatchbayError } from '@patchbay/contracts';
import { loadConfig, type PatchbayConfig } from '@patchbay/service-host';
import { NatsServer } from '@patchbay/testing';
import { manageHeap } from '@patchbay/telemetry';
import { startPart } from './parts.js';
import { StackSupervisor } from './stack.js';

export interface UpOptions {
  singleProcess?: boolean;
  dataDir?: string;
  port?: number;
  /** Called with the GraphQL URL once the whole stack answers its health query. */
  onReady?: (info: { url: string; natsUrl: string; pids: Record<string, number | undefined> }) => void;
  /** Resolves when the stack should stop (Ctrl-C by default). */
  until?: Promise<unknown>;
  log?: (line: string) => void;
}

/** The stack did not become healthy in time; the message says which part. */
export class StackStartError extends PatchbayError {
  constructor(message: string) {
    super('STACK_START_FAILED', message);
  }
}

const SERVICES = ['inventory', 'policy', 'planner', 'executor'] as const;
/** The services `PATCHBAY_UP_LAYOUT=grouped` runs in one process, with the relay. */
const GROUPED = ['inventory', 'policy', 'planner'] as const;

const entryOf = (pkg: string, file = 'main.js'): string => require.resolve(`${pkg}/dist/${file}`);

/**
 * `patchbay up`: a local nats-server unless NATS_URL is given, the SQLite store under the data
 * directory unless EVENTSTORE_URL is given, the four services, the relay and the gateway — each its
 * own process, or all in this one with `singleProcess`. Returns when `until` resolves (Ctrl-C),
 * after stopping everything it started.
 */
export async function up(options: UpOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = loadConfig({ ...process.env, ...(options.dataDir ? { PATCHBAY_DATA_DIR: options.dataDir } : {}), ...(options.port !== undefined ? { GATEWAY_PORT: String(options.port) } : {}) });
  mkdirSync(base.dataDir, { recursive: true });
  let nats: NatsServer | undefined;
  if (!base.natsUrl) {
    nats = await NatsServer.start({ storeDir: join(base.dataDir, 'nats'), serverName: 'patchbay-embedded' });
    log(`nats-server ${nats.url} (pid ${nats.pid}, JetStream in ${join(base.dataDir, 'nats')})`);
  }
  const config: PatchbayConfig = { ...base, natsUrl: base.natsUrl ?? nats!.url };
  log(`event store: ${config.eventStoreUrl ? 'KurrentDB (EVENTSTORE_URL)' : `SQLite ${config.sqlitePath}`}`);
  const until = options.until ?? ctrlC();
  try {
    if (options.singleProcess) await upInProcess(config, log, options, until);
    else await upAsProcesses(config, log, options, until);
  } finally {
    await nats?.stop();
    log('stopped');
  }
}

/** Resolves on the first Ctrl-C / SIGTERM; a second one exits at once, whatever is still stopping. */
function ctrlC(): Promise<string> {
  return new Promise((resolve) => {
    let seen = false;
    const on = (signal: string) => () => {
      if (seen) process.exit(130);
      seen = true;
      resolve(signal);
    };
    process.on('SIGINT', on('SIGINT'));
    process.on('SIGTERM', on('SIGTERM'));
  });
}

async function upAsProcesses(config: PatchbayConfig, log: (l: string) => void, options: UpOptions, until: Promise<unknown>): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NATS_URL: config.natsUrl,
    PATCHBAY_DATA_DIR: config.dataDir,
    EVENTSTORE_SQLITE_PATH: config.sqlitePath,
    GATEWAY_HOST: config.gatewayHost,
    GATEWAY_PORT: String(config.gatewayPort),
  };
  const supervisor = new StackSupervisor(join(config.dataDir, 'logs'));
  const execArgv = nodeArgs(config);
  try {
    if (config.upLayout === 'grouped') {
      // The services that need little CPU share one process (one Node baseline instead of four).
      supervisor.start({ name: 'control', entry: join(__dirname, 'group-main.js'), args: [...GROUPED, 'relay'], env, execArgv });
      supervisor.start({ name: 'executor', entry: entryOf('@patchbay/executor'), env, execArgv });
    } else {
      for (const s of SERVICES) supervisor.start({ name: s, entry: entryOf(`@patchbay/${s}`), env, execArgv });
      // The relay reads EVENTSTORE_URL / EVENTSTORE_SQLITE_PATH and NATS_URL from the same environment.
      supervisor.start({ name: 'relay', entry: entryOf('@patchbay/messaging', 'relay-main.js'), env, execArgv });
    }
    const url = await gatewayUrl(supervisor, env, config);
    await waitHealthy(url, supervisor.failed);
    options.onReady?.({ url, natsUrl: config.natsUrl!, pids: supervisor.pids() });
    const layout = config.upLayout === 'grouped' ? `${GROUPED.join(', ')} and the relay in one process, executor and gateway in their own` : `${SERVICES.length} services, relay, gateway as separate processes`;
    log(`Patchbay is up (${layout}; logs in ${join(config.dataDir, 'logs')})`);
    log(`GraphQL: ${url}`);
    log(`Console: ${new URL('/', url).href} (sign in with an API token)`);
    await Promise.race([until, supervisor.failed]);
  } finally {
    log('stopping…');
    await supervisor.stop();
  }
}

/**
 * Node options of every process the stack starts: a bounded young generation. Each service
 * allocates fast but keeps little, and V8's default lets the young generation grow to 128 MB per
 * process under load (measured in bench/RESULTS.md).
 */
function nodeArgs(config: PatchbayConfig): string[] {
  return config.nodeSemiSpaceMb > 0 ? [`--max-semi-space-size=${config.nodeSemiSpaceMb}`] : [];
}

/** Starts the gateway process and reads the URL it prints (the port may be 0 = any free port). */
async function gatewayUrl(supervisor: StackSupervisor, env: NodeJS.ProcessEnv, config: PatchbayConfig): Promise<string> {
  // The gateway logs `{"msg":"listening","url":...}`; the supervisor owns the process, the log file has the line.
  supervisor.start({ name: 'gateway', entry: entryOf('@patchbay/gateway'), env, execArgv: nodeArgs(config) });
  const logFile = join(config.dataDir, 'logs', 'gateway.log');
  const deadline = Date.now() + 30_000;
  const startSize = existsSync(logFile) ? readFileSync(logFile).length : 0;
  let shownToken = false;
  for (;;) {
    if (existsSync(logFile)) {
      const text = readFileSync(logFile, 'utf8').slice(startSize);
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const rec = JSON.parse(line) as { msg?: string; url?: string; level?: string; code?: string; token?: string };
          // The gateway creates an admin token on first start and shows it once: pass it on.
          if (rec.token && !shownToken) {
            shownToken = true;
            process.stdout.write(`${rec.msg}: ${rec.token}\n`);
          }
          if (rec.msg === 'listening' && rec.url) return rec.url;
          if (rec.level === 'fatal') throw new StackStartError(`gateway failed to start: ${rec.code}: ${rec.msg}`);
        } catch (err) {
          if (err instanceof StackStartError) throw err;
        }
      }
    }
    if (Date.now() > deadline) throw new StackStartError(`gateway did not start within 30 s (see ${logFile})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function upInProcess(config: PatchbayConfig, log: (l: string) => void, options: UpOptions, until: Promise<unknown>): Promise<void> {
  const { startGateway } = await import('@patchbay/gateway');
  const heap = manageHeap(config.nodeHeapGrowingPercent);
  const closers: Array<() => Promise<void>> = [];
  try {
    for (const part of [...SERVICES, 'relay'] as const) closers.push(await startPart(part, config));
    const gateway = await startGateway(config);
    closers.push(() => gateway.close());
    await waitHealthy(gateway.url, new Promise<never>(() => undefined));
    options.onReady?.({ url: gateway.url, natsUrl: config.natsUrl!, pids: { all: process.pid } });
    log(`Patchbay is up (single process, pid ${process.pid})`);
    log(`GraphQL: ${gateway.url}`);
    log(`Console: ${new URL('/', gateway.url).href} (sign in with an API token)`);
    await until;
  } finally {
    log('stopping…');
    for (const close of closers.reverse()) await close().catch((err: Error) => log(`stop failed: ${err.message}`));
    heap.stop();
  }
}

/** Polls the gateway's `health` query until every service answers ok (or 60 s pass). */
export async function waitHealthy(url: string, failed: Promise<never>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const attempt = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ health { status services { service status error } } }' }) })
      .then((r) => r.json() as Promise<{ data?: { health: { status: string; services: unknown[] } } }>)
      .catch((err: Error) => ({ error: err.message }));
    const r = await Promise.race([attempt, failed]);
    if ('data' in r && r.data?.health.status === 'ok') return;
    last = JSON.stringify(r);
    if (Date.now() > deadline) throw new StackStartError(`the stack did not become healthy within ${timeoutMs / 1000} s; last answer: ${last}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Reads lines from stdin until EOF (lets tests and scripts stop the stack without signals). */
export function stdinClosed(): Promise<void> {
  return new Promise((resolve) => createInterface({ input: process.stdin }).once('close', () => resolve()));
}
