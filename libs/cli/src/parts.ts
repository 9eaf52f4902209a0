import { openConfiguredStore, startService, type PatchbayConfig, type ServiceDefinition } from '@patchbay/service-host';

/** What a process of the stack can run besides the gateway: a service, or the relay. */
export const PARTS = ['inventory', 'policy', 'planner', 'executor', 'relay'] as const;
export type Part = (typeof PARTS)[number];

async function definitionOf(name: Exclude<Part, 'relay'>): Promise<ServiceDefinition> {
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

/**
 * Starts one part in this process (it talks to the others only through NATS, as in a process of
 * its own) and resolves with what stops it. Used by `up --single-process` and by group-main.js.
 */
export async function startPart(part: Part, config: PatchbayConfig): Promise<() => Promise<void>> {
  if (part === 'relay') return startRelay(config);
  const service = await startService(await definitionOf(part), config);
  return () => service.close();
}
