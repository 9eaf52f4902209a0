#!/usr/bin/env node
// Several services, and optionally the relay, in one process (they still talk only through NATS):
// what `patchbay up` runs with PATCHBAY_UP_LAYOUT=grouped, for the services that need little CPU.
//   node dist/group-main.js inventory policy planner relay
// Configuration comes from the environment as for every service. Unknown names: exit 2 with
// VALIDATION_FAILED; a bad setting: exit 2 with CONFIG_INVALID; SIGTERM/SIGINT: every part stops
// (the relay saves its checkpoint) and the process exits 0.
import { loadConfig, openConfiguredStore, startService, type PatchbayConfig, type ServiceDefinition } from '@patchbay/service-host';

/** The parts a group process can run. */
export const GROUPABLE = ['inventory', 'policy', 'planner', 'executor', 'relay'] as const;
export type Groupable = (typeof GROUPABLE)[number];

async function definitionOf(name: Exclude<Groupable, 'relay'>): Promise<ServiceDefinition> {
  switch (name) {
    case 'inventory':
      return (await import('@patchbay/inventory')).inventoryService;
    case 'policy':
      return (await import('@patchbay/policy')).policyService;
    case 'planner':
      return (await import('@patchbay/planner')).plannerService;
    case 'executor':
      return (await import('@patchbay/executor')).executorService;
  }
}

async function startRelay(config: PatchbayConfig): Promise<() => Promise<void>> {
  const { NatsBus, EventRelay } = await import('@patchbay/messaging');
  const store = await openConfiguredStore(config);
  const bus = await NatsBus.connect({ servers: config.natsUrl!.split(','), name: `patchbay-relay-${process.pid}` });
  const relay = new EventRelay({ store, bus });
  relay.start();
  return async () => {
    await relay.stop();
    await bus.close();
    await store.close();
  };
}

function fail(code: string, message: string, status: number): never {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', service: 'group', code, msg: message })}\n`);
  process.exit(status);
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !(GROUPABLE as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0 || new Set(names).size !== names.length) {
    fail('VALIDATION_FAILED', `usage: group-main.js <${GROUPABLE.join('|')}>... (each at most once)${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`, 2);
  }
  let config: PatchbayConfig;
  try {
    config = loadConfig();
    if (!config.natsUrl) throw Object.assign(new Error('NATS_URL is required'), { code: 'CONFIG_INVALID' });
  } catch (err) {
    fail('CONFIG_INVALID', (err as Error).message, 2);
  }
  const closers: Array<() => Promise<void>> = [];
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const close of closers.reverse()) await close().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  try {
    for (const name of names as Groupable[]) {
      if (name === 'relay') closers.push(await startRelay(config));
      else {
        const s = await startService(await definitionOf(name), config);
        closers.push(() => s.close());
      }
    }
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    fail((err as { code?: string }).code ?? 'STARTUP_FAILED', (err as Error).message, 1);
  }
}

void main();
