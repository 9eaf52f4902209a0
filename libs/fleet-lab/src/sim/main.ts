#!/usr/bin/env node
// Serves a simulated fleet from its own process, so a controller measured against it pays only
// its own CPU. Prints one JSON line when ready ({"event":"ready","targets":[...]}) and one when
// stopped by SIGTERM, SIGINT or the end of stdin ({"event":"stopped","counters":...}).
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SCENARIO } from '../scenario.js';
import { SimulatedFleet } from './fleet.js';
import { readScenarioFile, withBehaviourOverrides } from './scenario-file.js';

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

const program = new Command()
  .name('patchbay-sim-fleet')
  .description('Serve N simulated Debian 12 endpoints (in-process SSH servers) on 127.0.0.1')
  .requiredOption('--endpoints <n>', 'number of endpoints', int)
  .requiredOption('--client-key <publicKey>', 'accepted client public key (ssh-ed25519 AAAA... line)')
  .option('--scenario <file>', 'scenario YAML/JSON (default: the built-in default scenario)')
  .option('--apt-latency-ms <ms>', 'override apt-get latency', int)
  .option('--reboot-delay-ms <ms>', 'override the reboot delay', int)
  .option('--failure-rate <p>', 'override the transient command failure rate', rate)
  .option('--command-latency-ms <ms>', 'latency of non-apt commands', int, 0)
  .option('--base-port <port>', 'first port to listen on', int, 20000);

async function main(): Promise<void> {
  const o = program.parse().opts<{
    endpoints: number;
    clientKey: string;
    scenario?: string;
    aptLatencyMs?: number;
    rebootDelayMs?: number;
    failureRate?: number;
    commandLatencyMs: number;
    basePort: number;
  }>();
  const scenario = withBehaviourOverrides(o.scenario ? readScenarioFile(o.scenario) : DEFAULT_SCENARIO, {
    aptLatencyMs: o.aptLatencyMs,
    rebootDelayMs: o.rebootDelayMs,
    commandFailureRate: o.failureRate,
  });
  const t0 = performance.now();
  const fleet = await SimulatedFleet.start({
    endpoints: o.endpoints,
    scenario,
    clientPublicKey: o.clientKey,
    commandLatencyMs: o.commandLatencyMs,
    basePort: o.basePort,
  });
  const startupMs = performance.now() - t0;
  process.stdout.write(JSON.stringify({ event: 'ready', startupMs, rssBytes: process.memoryUsage().rss, targets: fleet.targets() }) + '\n');
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await fleet.stop();
    const cpu = process.cpuUsage();
    process.stdout.write(
      JSON.stringify({
        event: 'stopped',
        counters: fleet.counters,
        cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 },
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
      }) + '\n',
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
}

main().catch((e: unknown) => {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`patchbay-sim-fleet: ${err.code ? `[${err.code}] ` : ''}${err.message ?? String(e)}\n`);
  process.exit(1);
});
