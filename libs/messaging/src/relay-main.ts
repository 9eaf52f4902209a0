// The relay as its own process:
//   node dist/relay-main.js --store <sqlite path> --nats <url>[,<url>...] [--name <checkpoint name>]
//                           [--replicas <n>] [--duplicate-window-ms <ms>]
//   Without --store / --nats: EVENTSTORE_URL or EVENTSTORE_SQLITE_PATH, and NATS_URL.
//   Stream settings (replicas, window) are enforced only when given: give every process the same.
// Exits cleanly on SIGINT/SIGTERM after saving the checkpoint of everything already acknowledged.
// Traces and metrics (patchbay.relay.lag, patchbay.relay.oldest_unrelayed.age) leave the process
// over OTLP when the standard OTEL_* variables ask for it (service name `patchbay-relay`).
import { parseArgs } from 'node:util';
import { openEventStore } from '@patchbay/event-store';
import { heapGrowingPercentOf, manageHeap, startTelemetry } from '@patchbay/telemetry';
import { NatsBus } from './bus.js';
import { EventRelay } from './relay.js';

/**
 * Crash-test hook, inert unless the variable is set: after this many PubAcks the process kills
 * itself with SIGKILL before saving the checkpoint, the worst moment for a relay to die.
 */
export const FAULT_KILL_AFTER_ACKS_ENV = 'PATCHBAY_RELAY_FAULT_KILL_AFTER_ACKS';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        store: { type: 'string' },
        nats: { type: 'string' },
        name: { type: 'string', default: 'relay-jetstream' },
        replicas: { type: 'string' },
        'duplicate-window-ms': { type: 'string' },
      },
    });
  } catch (err) {
    process.stderr.write(`VALIDATION_FAILED: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const { values } = parsed;
  // Without flags the usual configuration applies: EVENTSTORE_URL / EVENTSTORE_SQLITE_PATH and NATS_URL.
  const natsUrl = values.nats ?? process.env['NATS_URL'];
  if (!natsUrl) {
    process.stderr.write('VALIDATION_FAILED: usage: relay-main --store <sqlite path> --nats <url> [--name <checkpoint name>] [--replicas <n>] [--duplicate-window-ms <ms>]\n');
    process.exit(2);
  }
  const positive = (flag: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      process.stderr.write(`VALIDATION_FAILED: --${flag} must be a positive integer, got ${JSON.stringify(value)}\n`);
      process.exit(2);
    }
    return n;
  };
  const replicas = positive('replicas', values.replicas);
  const duplicateWindowMs = positive('duplicate-window-ms', values['duplicate-window-ms']);
  try {
    manageHeap(heapGrowingPercentOf(process.env));
  } catch (err) {
    process.stderr.write(`CONFIG_INVALID: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = (level: string, message: string, fields?: Record<string, unknown>): void => {
    process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...fields })}\n`);
  };
  const telemetry = startTelemetry({ serviceName: 'patchbay-relay' });
  const store = await openEventStore(values.store ? { EVENTSTORE_SQLITE_PATH: values.store } : process.env);
  const bus = await NatsBus.connect({ servers: natsUrl.split(','), name: `patchbay-relay:${values.name}`, replicas, duplicateWindowMs, log });

  const killAfter = Number(process.env[FAULT_KILL_AFTER_ACKS_ENV] ?? 0);
  let acks = 0;
  const relay = new EventRelay({
    store,
    bus,
    checkpointName: values.name,
    log,
    afterPublishAck: killAfter > 0 ? () => {
      if (++acks >= killAfter) process.kill(process.pid, 'SIGKILL');
    } : undefined,
  });
  relay.start();
  process.stdout.write(`${JSON.stringify({ msg: 'relay started', pid: process.pid, checkpointName: values.name })}\n`);

  const shutdown = async (): Promise<void> => {
    await relay.stop();
    await bus.close();
    await store.close();
    // Flushes the last metrics and spans; a collector that is gone must not hold the exit.
    await Promise.race([telemetry.shutdown().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`relay failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
