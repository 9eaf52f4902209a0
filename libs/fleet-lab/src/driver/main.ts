#!/usr/bin/env node
// The bare ssh2 workflow driver: runs the reference workflow on a simulated fleet (served from a
// child process by default, so the controller CPU printed is the driver's alone) or on a list of
// real hosts, then prints wall time, outcome counts and controller CPU time.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SCENARIO } from '../scenario.js';
import { SimulatedFleet, type EndpointTarget } from '../sim/fleet.js';
import { readScenarioFile, withBehaviourOverrides } from '../sim/scenario-file.js';
import { DriverUsageError } from './errors.js';
import type { DriverTarget } from './ssh-host.js';
import { runReferenceWorkflow, type WorkflowReport } from './workflow.js';
import { generateSshKeyPair } from '../sim/host-keys.js';

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
};
const rate = (v: string): number => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
};

interface Options {
  fleet: string;
  endpoints?: number;
  concurrency: number;
  inProcess?: boolean;
  scenario?: string;
  aptLatencyMs?: number;
  rebootDelayMs?: number;
  failureRate?: number;
  targets?: string;
  identity?: string;
  user: string;
  appService?: string;
  appPort?: number;
  pin: boolean;
  rebootTimeoutMs: number;
  json?: boolean;
}

const program = new Command()
  .name('patchbay-ssh2-driver')
  .description('Reference workflow (disk check, stop app, apt upgrade, reboot if required, start app, validate) over one ssh2 connection per host')
  .requiredOption('--fleet <kind>', '"sim" (simulated endpoints) or "hosts" (a targets file)')
  .option('--endpoints <n>', 'simulated endpoints to start (fleet sim)', int)
  .option('--concurrency <n>', 'hosts worked on at once', int, 100)
  .option('--in-process', 'serve the simulated fleet inside this process (controller CPU then includes the fleet)')
  .option('--scenario <file>', 'scenario YAML/JSON (fleet sim; default: the built-in scenario)')
  .option('--apt-latency-ms <ms>', 'simulated apt-get latency', int)
  .option('--reboot-delay-ms <ms>', 'simulated reboot delay', int)
  .option('--failure-rate <p>', 'simulated transient command failure rate', rate)
  .option('--targets <file>', 'fleet hosts: JSON array of {id?, host, port, hostKeyFingerprint?}')
  .option('--identity <file>', 'fleet hosts: private key file')
  .option('--user <name>', 'login user (non-root users get sudo -n)', 'root')
  .option('--app-service <name>', "application service (default: the scenario's)")
  .option('--app-port <port>', "application port (default: the scenario's)", int)
  .option('--no-pin', 'do not refuse changed host keys')
  .option('--reboot-timeout-ms <ms>', 'time allowed for a reboot', int, 120000)
  .option('--json', 'print every host outcome as JSON too');

async function main(): Promise<void> {
  const o = program.parse().opts<Options>();
  let targets: DriverTarget[];
  let privateKey: string | Buffer;
  let fleetLabel: string;
  let app = DEFAULT_SCENARIO.app;
  let cleanup: () => Promise<string | undefined> = async () => undefined;

  if (o.fleet === 'sim') {
    if (o.endpoints === undefined || o.endpoints < 1) throw new DriverUsageError('--fleet sim needs --endpoints <n>');
    const scenario = withBehaviourOverrides(o.scenario ? readScenarioFile(o.scenario) : DEFAULT_SCENARIO, {
      aptLatencyMs: o.aptLatencyMs,
      rebootDelayMs: o.rebootDelayMs,
      commandFailureRate: o.failureRate,
    });
    app = scenario.app;
    const pair = generateSshKeyPair();
    privateKey = pair.private;
    if (o.inProcess) {
      const fleet = await SimulatedFleet.start({ endpoints: o.endpoints, scenario, clientPublicKey: pair.public });
      targets = fleet.targets();
      fleetLabel = `simulated, ${o.endpoints} endpoints in this process`;
      cleanup = async () => {
        await fleet.stop();
        return `fleet counters: ${JSON.stringify(fleet.counters)}`;
      };
    } else {
      const served = await serveSimulatedFleet(o, pair.public);
      targets = served.targets;
      fleetLabel = `simulated, ${o.endpoints} endpoints in a child process (started in ${(served.startupMs / 1000).toFixed(2)} s)`;
      cleanup = served.stop;
    }
  } else if (o.fleet === 'hosts') {
    if (!o.targets || !o.identity) throw new DriverUsageError('--fleet hosts needs --targets <file> and --identity <file>');
    targets = parseTargets(readFileSync(o.targets, 'utf8'));
    privateKey = readFileSync(o.identity);
    fleetLabel = `real hosts, ${targets.length} from ${o.targets}`;
  } else {
    throw new DriverUsageError(`--fleet must be "sim" or "hosts", got "${o.fleet}"`);
  }

  let report: WorkflowReport;
  try {
    report = await runReferenceWorkflow(targets, {
      username: o.user,
      privateKey,
      concurrency: o.concurrency,
      pinHostKeys: o.pin,
      app: { service: o.appService ?? app.service, port: o.appPort ?? app.port },
      rebootTimeoutMs: o.rebootTimeoutMs,
    });
  } finally {
    const extra = await cleanup();
    if (extra) process.stdout.write(extra + '\n');
  }
  if (o.json) process.stdout.write(JSON.stringify(report.outcomes, null, 2) + '\n');
  const failures = report.outcomes.filter((x) => x.status === 'failed');
  for (const f of failures.slice(0, 10))
    process.stdout.write(`  ${f.id} (${f.host}:${f.port}) failed at ${f.failedStep}: [${f.error?.code}] ${f.error?.message}\n`);
  if (failures.length > 10) process.stdout.write(`  ... and ${failures.length - 10} more failures\n`);
  process.stdout.write(`fleet: ${fleetLabel}\n`);
  process.stdout.write(`hosts: ${targets.length}, concurrency ${o.concurrency}\n`);
  process.stdout.write(`wall time: ${(report.wallMs / 1000).toFixed(2)} s\n`);
  process.stdout.write(
    `outcomes: ${Object.entries(report.counts)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}\n`,
  );
  process.stdout.write(
    `controller CPU: user ${(report.cpu.userMs / 1000).toFixed(2)} s + system ${(report.cpu.systemMs / 1000).toFixed(2)} s = ${((report.cpu.userMs + report.cpu.systemMs) / 1000).toFixed(2)} s${o.inProcess ? ' (includes the in-process simulated fleet)' : ''}, max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\n`,
  );
  process.exitCode = failures.length > 0 ? 1 : 0;
}

/** Targets file: a JSON array of `{id?, host, port, hostKeyFingerprint?}`. */
export function parseTargets(text: string): DriverTarget[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DriverUsageError(`targets file is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new DriverUsageError('targets file must hold a JSON array');
  return raw.map((t: Record<string, unknown>, i) => {
    if (typeof t?.host !== 'string' || !Number.isInteger(t.port))
      throw new DriverUsageError(`targets[${i}] needs host (string) and port (integer)`, { index: i });
    return {
      id: typeof t.id === 'string' ? t.id : `${t.host}:${t.port}`,
      host: t.host,
      port: t.port as number,
      hostKeyFingerprint: typeof t.hostKeyFingerprint === 'string' ? t.hostKeyFingerprint : undefined,
    };
  });
}

async function serveSimulatedFleet(
  o: Options,
  clientPublicKey: string,
): Promise<{ targets: EndpointTarget[]; startupMs: number; stop: () => Promise<string | undefined> }> {
  const args = [join(__dirname, '..', 'sim', 'main.js'), '--endpoints', String(o.endpoints), '--client-key', clientPublicKey];
  if (o.scenario) args.push('--scenario', o.scenario);
  if (o.aptLatencyMs !== undefined) args.push('--apt-latency-ms', String(o.aptLatencyMs));
  if (o.rebootDelayMs !== undefined) args.push('--reboot-delay-ms', String(o.rebootDelayMs));
  if (o.failureRate !== undefined) args.push('--failure-rate', String(o.failureRate));
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new DriverUsageError('the simulated fleet exited before it was ready');
  const ready = JSON.parse(first.value) as { targets: EndpointTarget[]; startupMs: number };
  return {
    targets: ready.targets,
    startupMs: ready.startupMs,
    stop: async () => {
      child.kill('SIGTERM');
      const last = await lines.next();
      await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      if (last.done) return undefined;
      const s = JSON.parse(last.value) as { counters: object; cpu: { userMs: number; systemMs: number }; maxRssBytes: number };
      return `fleet process: CPU ${((s.cpu.userMs + s.cpu.systemMs) / 1000).toFixed(2)} s, max RSS ${(s.maxRssBytes / 1048576).toFixed(0)} MiB, counters ${JSON.stringify(s.counters)}`;
    },
  };
}

if (require.main === module) {
  main().catch((e: unknown) => {
    const err = e as { code?: string; message?: string };
    process.stderr.write(`patchbay-ssh2-driver: ${err.code ? `[${err.code}] ` : ''}${err.message ?? String(e)}\n`);
    process.exit(2);
  });
}
