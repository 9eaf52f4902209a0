import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import {
  CycleAborted,
  EndpointReleased,
  HostKeyPinned,
  RUN_FINAL_EVENTS,
  toCycleStreamName,
  toEndpointStreamName,
  toRunStreamName,
  type RecordedEvent,
  type WorkflowStepInput,
} from '@patchbay/contracts';
import { openEventStore, type EventStore } from '@patchbay/event-store';
import { EventRelay, NatsBus } from '@patchbay/messaging';
import type { RemoteExecutor } from '@patchbay/remote';
import { loadConfig, startService, type RunningService } from '@patchbay/service-host';
import { NatsServer } from '@patchbay/testing';
import type { z } from 'zod';
import { createExecutorService } from '../index.js';
import type { ExecutorSettings } from '../settings.js';

type ReleaseInput = z.input<typeof EndpointReleased.schema>;
/** A workflow as `EndpointReleased` takes it (defaults not yet applied). */
export type WorkflowInput = ReleaseInput['workflow'];

const FINAL = new Set<string>(RUN_FINAL_EVENTS.map((d) => d.type));

/**
 * A real bus and store for executor tests: a nats-server child process, the SQLite event store in
 * a temp directory, the relay publishing stored events to JetStream, and executors started the
 * way the host starts them (in this process with `startService`, or as their own process).
 */
export class ExecutorTestBed {
  private readonly services: RunningService[] = [];
  private readonly children = new Set<ChildProcess>();

  private constructor(
    readonly dir: string,
    readonly nats: NatsServer,
    readonly store: EventStore,
    readonly bus: NatsBus,
    private readonly relay: EventRelay,
  ) {}

  get sqlitePath(): string {
    return join(this.dir, 'events.db');
  }

  static async start(): Promise<ExecutorTestBed> {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-executor-'));
    const nats = await NatsServer.start();
    const store = await openEventStore({ EVENTSTORE_SQLITE_PATH: join(dir, 'events.db') });
    const bus = await NatsBus.connect({ servers: [nats.url], name: 'executor-test-bed' });
    const relay = new EventRelay({ store, bus, pollIntervalMs: 10 });
    relay.start();
    return new ExecutorTestBed(dir, nats, store, bus, relay);
  }

  /** The environment a service process reads. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { NATS_URL: this.nats.url, EVENTSTORE_SQLITE_PATH: this.sqlitePath, PATCHBAY_DATA_DIR: this.dir, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn', ...extra };
  }

  /** Starts an executor in this process, as `patchbay up --single-process` would. */
  async startExecutor(settings: Partial<ExecutorSettings>, remote?: RemoteExecutor): Promise<RunningService> {
    const svc = await startService(createExecutorService({ settings: { resumeIntervalMs: 1000, abortPollMs: 100, ...settings }, ...(remote ? { remote } : {}) }), loadConfig(this.env()));
    this.services.push(svc);
    return svc;
  }

  async stopExecutor(svc: RunningService): Promise<void> {
    await svc.close();
    this.services.splice(this.services.indexOf(svc), 1);
  }

  /** Starts `dist/main.js` as its own process (killed with SIGKILL by crash tests). */
  spawnExecutor(env: Record<string, string>): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
    const main = resolve(__dirname, '..', 'main.js');
    const child = spawn(process.execPath, [main], { env: { PATH: process.env['PATH'] ?? '', ...this.env(env) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    this.children.add(child);
    const exited = new Promise<number | null>((r) => child.once('close', (code) => {
      this.children.delete(child);
      r(code);
    }));
    return { child, exited, output: () => output };
  }

  /** Appends `EndpointReleased` to the cycle stream, as the planner does. */
  async release(input: Omit<ReleaseInput, 'wave' | 'rebootPolicy' | 'packages'> & Partial<Pick<ReleaseInput, 'wave' | 'rebootPolicy' | 'packages'>>, traceparent?: string): Promise<string> {
    const data = EndpointReleased.parse({ wave: 0, rebootPolicy: 'if-required', packages: [], ...input });
    const eventId = `${toCycleStreamName(data.cycleId)}:released:${data.endpointId}:${randomUUID()}`;
    await this.store.append(toCycleStreamName(data.cycleId), [{ eventId, type: EndpointReleased.type, data, correlationId: data.cycleId, actor: 'planner', ...(traceparent ? { traceparent } : {}) }], 'any');
    return toRunStreamName(data.cycleId, data.endpointId);
  }

  async abort(cycleId: string, reason = 'operator abort'): Promise<void> {
    const data = CycleAborted.parse({ cycleId, by: 'operator:test', reason });
    await this.store.append(toCycleStreamName(cycleId), [{ eventId: `cycle-${cycleId}:aborted`, type: CycleAborted.type, data, correlationId: cycleId, actor: 'operator:test' }], 'any');
  }

  /** Pins an endpoint's host key, as the inventory service records it. */
  async pinHostKey(endpointId: string, fingerprint: string, algorithm = 'ssh-ed25519'): Promise<void> {
    const data = HostKeyPinned.parse({ endpointId, key: { algorithm, fingerprint }, decidedBy: 'operator', reason: 'test bed' });
    await this.store.append(toEndpointStreamName(endpointId), [{ eventId: `endpoint-${endpointId}:pinned:${fingerprint}`, type: HostKeyPinned.type, data, actor: 'inventory' }], 'any');
  }

  runEvents(stream: string): Promise<RecordedEvent[]> {
    return this.store.readStream(stream, { ifMissing: 'empty' });
  }

  /** Waits until every stream ends with a final run event; returns their events. */
  async waitForFinal(streams: readonly string[], timeoutMs: number): Promise<Map<string, RecordedEvent[]>> {
    const deadline = Date.now() + timeoutMs;
    const done = new Map<string, RecordedEvent[]>();
    for (;;) {
      for (const s of streams) {
        if (done.has(s)) continue;
        const events = await this.runEvents(s);
        if (events.length > 0 && FINAL.has(events.at(-1)!.type)) done.set(s, events);
      }
      if (done.size === streams.length) return done;
      if (Date.now() > deadline) {
        const open = streams.filter((s) => !done.has(s));
        const tails = await Promise.all(open.slice(0, 3).map(async (s) => `${s}: ${(await this.runEvents(s)).map((e) => `${e.type}(${(e.data as { stepKey?: string }).stepKey ?? ''})`).join(' ')}`));
        throw new Error(`${open.length} runs not final after ${timeoutMs} ms:\n${tails.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until a stream holds an event matching `pred`. */
  async waitForEvent(stream: string, pred: (e: RecordedEvent) => boolean, timeoutMs: number): Promise<RecordedEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = (await this.runEvents(stream)).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching event in ${stream} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    await Promise.all([...this.services].map((s) => s.close().catch(() => undefined)));
    await this.relay.stop();
    await this.bus.close();
    await this.store.close();
    await this.nats.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The invariants every finished run must keep, whatever crashed on the way: one claim, one final
 * event; every (step, attempt) started once and ended at most once; no step succeeded twice; no
 * reboot issued twice for one boot id.
 */
export function assertRunInvariants(stream: string, events: readonly RecordedEvent[]): void {
  const types = events.map((e) => e.type);
  assert.equal(types.filter((t) => t === 'RunStarted').length, 1, `${stream}: one RunStarted`);
  assert.equal(types.filter((t) => FINAL.has(t)).length, 1, `${stream}: one final event`);
  assert.ok(FINAL.has(types.at(-1)!), `${stream}: ends with its final event`);
  const started = new Set<string>();
  const ended = new Set<string>();
  const succeeded = new Set<string>();
  const rebootBoots = new Set<string>();
  for (const e of events) {
    const d = e.data as { stepKey?: string; attempt?: number; bootIdBefore?: string };
    const k = `${d.stepKey}#${d.attempt}`;
    if (e.type === 'StepStarted') {
      assert.ok(!started.has(k), `${stream}: ${k} started twice`);
      started.add(k);
    }
    if (e.type === 'StepSucceeded' || e.type === 'StepFailed' || (e.type === 'StepSkipped' && started.has(k))) {
      assert.ok(!ended.has(k), `${stream}: ${k} ended twice`);
      ended.add(k);
    }
    if (e.type === 'StepSucceeded') {
      assert.ok(!succeeded.has(d.stepKey!), `${stream}: ${d.stepKey} succeeded twice`);
      succeeded.add(d.stepKey!);
    }
    if (e.type === 'RebootIssued') {
      assert.ok(!rebootBoots.has(d.bootIdBefore!), `${stream}: reboot issued twice for boot ${d.bootIdBefore}`);
      rebootBoots.add(d.bootIdBefore!);
    }
  }
}

/** Step ids and types of a workflow, in order, for readable assertions. */
export function stepKeysOf(events: readonly RecordedEvent[], type: string): string[] {
  return events.filter((e) => e.type === type).map((e) => (e.data as { stepKey: string }).stepKey);
}

export type { WorkflowStepInput };
