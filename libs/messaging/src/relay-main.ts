// The relay as its own process:
//   node dist/relay-main.js --store <sqlite path> --nats <url>[,<url>...] [--name <checkpoint name>] [--replicas <n>]
//                           [--duplicate-window-ms <ms>]   (stream settings: give every process the same)
// Exits cleanly on SIGINT/SIGTERM after saving the checkpoint of everything already acknowledged.
import { parseArgs } from 'node:util';
import { openEventStore } from '@patchbay/event-store';
import { NatsBus } from './bus.js';
import { EventRelay } from './relay.js';

/**
 * Crash-test hook, inert unless the variable is set: after this many PubAcks the process kills
 * itself with SIGKILL before saving the checkpoint, the worst moment for a relay to die.
 */
export const FAULT_KILL_AFTER_ACKS_ENV = 'PATCHBAY_RELAY_FAULT_KILL_AFTER_ACKS';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      store: { type: 'string' },
      nats: { type: 'string' },
      name: { type: 'string', default: 'relay-jetstream' },
      replicas: { type: 'string', default: '1' },
      'duplicate-window-ms': { type: 'string' },
    },
  });
  if (!values.store || !values.nats) {
    process.stderr.write('usage: relay-main --store <sqlite path> --nats <url> [--name <checkpoint name>] [--replicas <n>]\n');
    process.exit(2);
  }
  const log = (level: string, message: string, fields?: Record<string, unknown>): void => {
    process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...fields })}\n`);
  };
  const store = await openEventStore({ EVENTSTORE_SQLITE_PATH: values.store });
  const bus = await NatsBus.connect({ servers: values.nats.split(','), name: `patchbay-relay:${values.name}`, replicas: Number(values.replicas), duplicateWindowMs: values['duplicate-window-ms'] ? Number(values['duplicate-window-ms']) : undefined, log });

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
