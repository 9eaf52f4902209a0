import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { NewEvent } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { EventRelay, NatsBus } from '@patchbay/messaging';
import { NatsServer } from '@patchbay/testing';
import type { PatchbayConfig } from '@patchbay/service-host';
import { startGateway, type RunningGateway } from './gateway.js';
import { loadGatewaySettings, type GatewaySettings } from './settings.js';

/** A fixed admin token for tests (the same format a generated one has). */
export const makeToken = (): string => `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string; details?: Record<string, unknown> } }>;
}

/** POSTs one GraphQL operation. */
export async function gql<T = Record<string, unknown>>(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResult<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GqlResult<T>, 'status'>;
  return { status: res.status, ...body };
}

/** The first error code of a result. */
export const codeOf = (r: GqlResult<unknown>): string | undefined => r.errors?.[0]?.extensions?.code;

export interface TestStack {
  nats: NatsServer;
  dir: string;
  store: SqliteEventStore;
  bus: NatsBus;
  relay: EventRelay;
  adminToken: string;
  gateways: RunningGateway[];
  /** Starts (another) gateway replica on the same NATS server and event store. */
  startGateway(overrides?: Partial<GatewaySettings>): Promise<RunningGateway>;
  /** Appends to the store and waits until the relay has put the events on JetStream. */
  append(stream: string, events: NewEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** A real nats-server, a real SQLite store in a temp dir, the relay, and gateways started as in production. */
export async function startTestStack(overrides: Partial<GatewaySettings> = {}): Promise<TestStack> {
  const nats = await NatsServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-gateway-'));
  const sqlitePath = join(dir, 'events.db');
  const store = SqliteEventStore.open(sqlitePath);
  const bus = await NatsBus.connect({ servers: [nats.url], name: 'gateway-spec-relay' });
  const relay = new EventRelay({ store, bus, pollIntervalMs: 10 });
  relay.start();
  const adminToken = makeToken();
  const gateways: RunningGateway[] = [];
  const stack: TestStack = {
    nats,
    dir,
    store,
    bus,
    relay,
    adminToken,
    gateways,
    async startGateway(more: Partial<GatewaySettings> = {}) {
      // Replicas share the data dir (gateway.db: tokens, webhooks, delivery log), as on one host.
      const dataDir = join(dir, 'gateway');
      const config: PatchbayConfig = { natsUrl: nats.url, eventStoreUrl: undefined, dataDir, sqlitePath, commandTimeoutMs: 2000, gatewayHost: '127.0.0.1', gatewayPort: 0, logLevel: 'silent', nodeSemiSpaceMb: 0, nodeHeapGrowingPercent: 0, upLayout: 'separate' };
      const settings: GatewaySettings = { ...loadGatewaySettings({}), adminToken, printBootstrapToken: false, auditSigningKeyFile: join(dir, 'audit-signing-key.pem'), ...overrides, ...more };
      const g = await startGateway(config, settings);
      gateways.push(g);
      return g;
    },
    async append(stream, events) {
      const r = await store.append(stream, events, 'any');
      await relay.waitFor(r.position);
    },
    async close() {
      for (const g of gateways.splice(0)) await g.close().catch(() => undefined);
      await relay.stop().catch(() => undefined);
      await bus.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      await nats.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

let seq = 0;
const ev = (type: string, data: Record<string, unknown>): NewEvent => ({ eventId: `${type}-${++seq}-${randomBytes(4).toString('hex')}`, type, data, actor: 'planner', correlationId: 'corr-1' });

/** The events of a small two-endpoint cycle, appended stream by stream in the order services would. */
export async function seedCycle(stack: Pick<TestStack, 'append'>, cycleId: string, options: { finish?: boolean } = {}): Promise<void> {
  const cycle = `cycle-${cycleId}`;
  const endpoints = [
    { endpointId: 'web-1', groupId: 'web', tier: 'prod', wave: 0 },
    { endpointId: 'db-1', groupId: 'db', tier: 'prod', wave: 0 },
  ];
  await stack.append(cycle, [
    ev('CycleRequested', { cycleId, kind: 'manual', policyId: 'pol-1', requestedBy: 'alice', requestedAt: new Date().toISOString(), notBefore: new Date().toISOString() }),
    ev('CyclePlanned', { cycleId, planHash: 'a'.repeat(64), header: { formatVersion: 1, waves: [{ index: 0, name: 'canary', size: 2 }] }, parts: 1, endpoints: 2, skipped: 0 }),
    ev('CyclePlanPartRecorded', { cycleId, part: 0, endpoints, skipped: [] }),
    ev('CycleApproved', { cycleId, by: 'bob', auto: false, approvals: 1, required: 1 }),
    ev('CycleStarted', { cycleId, at: new Date().toISOString() }),
    ev('WaveReleased', { cycleId, wave: 0, name: 'canary', endpoints: 2 }),
    ...endpoints.map((e) => ev('EndpointReleased', { cycleId, endpointId: e.endpointId, wave: 0 })),
  ]);
  for (const e of endpoints) {
    await stack.append(`run-${cycleId}.${e.endpointId}`, [
      ev('RunStarted', { cycleId, endpointId: e.endpointId, executorId: 'x1', releasedEventId: 'r' }),
      ev('StepStarted', { cycleId, endpointId: e.endpointId, stepKey: 'patch', attempt: 1, stepId: 'patch', type: 'apt-upgrade', phase: 'patch' }),
    ]);
  }
  if (!options.finish) return;
  for (const e of endpoints) {
    await stack.append(`run-${cycleId}.${e.endpointId}`, [
      ev('StepSucceeded', { cycleId, endpointId: e.endpointId, stepKey: 'patch', attempt: 1, stepId: 'patch' }),
      e.endpointId === 'db-1'
        ? ev('RunFailed', { cycleId, endpointId: e.endpointId, stepId: 'validate', code: 'STEP_FAILED', message: 'port closed', compensated: false, durationMs: 5 })
        : ev('RunSucceeded', { cycleId, endpointId: e.endpointId, durationMs: 5 }),
    ]);
    await stack.append(cycle, [ev('EndpointRunFinished', { cycleId, endpointId: e.endpointId, wave: 0, outcome: e.endpointId === 'db-1' ? 'failed' : 'succeeded', runEventId: 'x' })]);
  }
  await stack.append(cycle, [ev('WaveCompleted', { cycleId, wave: 0, succeeded: 1, failed: 1 }), ev('CycleCompleted', { cycleId, succeeded: 1, failed: 1, skipped: 0 })]);
}
