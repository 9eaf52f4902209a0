import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostOverride } from '@patchbay/fleet-lab';
import { NatsBus } from '@patchbay/messaging';
import { writeClientKey, type ClientKey } from '@patchbay/fleet-lab';
import { trialBundle, TrialFleet } from './fleet.js';
import { ReliabilityStack, type StackOptions } from './stack.js';

/** A stack, a bus connection to it, and the trial fleets it patched. */
export class Harness {
  private nextPort: number;
  readonly fleets: TrialFleet[] = [];

  private constructor(
    readonly stack: ReliabilityStack,
    readonly bus: NatsBus,
    readonly key: ClientKey,
    readonly workDir: string,
    private readonly ownsWorkDir: boolean,
  ) {
    // Below Linux's ephemeral range; each trial takes a few ports upwards (ports in use are skipped).
    this.nextPort = 23_000 + (process.pid % 40) * 200;
  }

  static async start(opts: Partial<StackOptions> & { workDir?: string } = {}): Promise<Harness> {
    const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'patchbay-reliability-'));
    const stack = await ReliabilityStack.start({ dataDir: opts.dataDir ?? join(workDir, 'data'), sqlitePath: opts.sqlitePath, env: opts.env });
    const bus = await NatsBus.connect({ servers: stack.nats.url, name: 'reliability-driver', requestTimeoutMs: 60_000 });
    return new Harness(stack, bus, writeClientKey(workDir), workDir, !opts.workDir);
  }

  get storePath(): string {
    return this.stack.storePath;
  }

  send<T>(service: string, name: string, payload: unknown, opts: { actor?: string; commandId?: string; timeoutMs?: number } = {}): Promise<T> {
    return this.bus.request<T>(
      `patchbay.cmd.${service}.${name}`,
      { commandId: opts.commandId ?? randomUUID(), actor: opts.actor ?? 'reliability-operator', correlationId: 'reliability', payload },
      { timeoutMs: opts.timeoutMs ?? 60_000 },
    );
  }

  /** The same command, retried with the same command id while the service is down or busy. */
  async sendRetrying<T>(service: string, name: string, payload: unknown, timeoutMs = 60_000): Promise<T> {
    const commandId = randomUUID();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.send<T>(service, name, payload, { commandId, timeoutMs: 15_000 });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (!['SERVICE_UNAVAILABLE', 'COMMAND_TIMEOUT', 'BUS_CLOSED', 'EVENT_STORE_UNAVAILABLE'].includes(code ?? '') || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }

  /**
   * A fresh simulated fleet for one trial: imported (host keys on first use), facts gathered, a
   * group and policy that select only it applied. Returns the fleet; the policy is `p-<label>`.
   */
  async prepareTrial(
    label: string,
    endpoints: number,
    opts: { hosts?: Record<string, HostOverride>; seed?: number; concurrency?: number; aptLatencyMs?: number; commandLatencyMs?: number; bundle?: string } = {},
  ): Promise<TrialFleet> {
    const fleet = await TrialFleet.start({
      label,
      endpoints,
      key: this.key,
      basePort: this.nextPort,
      hosts: opts.hosts,
      seed: opts.seed,
      aptLatencyMs: opts.aptLatencyMs,
      commandLatencyMs: opts.commandLatencyMs,
    });
    this.fleets.push(fleet);
    this.nextPort = Math.max(...fleet.fleet.endpoints.map((e) => e.port)) + 1;
    if (this.nextPort > 32_000) this.nextPort = 23_000;
    await this.sendRetrying('inventory', 'import', {
      format: 'ansible-ini',
      fileName: `${label}.ini`,
      content: fleet.inventoryIni(this.key.path),
      hostKeyPolicy: 'tofu',
    });
    const ids = fleet.fleet.endpoints.map((e) => fleet.idOf(e));
    const facts = await this.sendRetrying<{ outcomes?: Array<{ ok: boolean; endpointId?: string; code?: string }> }>('inventory', 'gather-facts', {
      endpointIds: ids,
      refresh: true,
      wait: true,
    });
    const bad = (facts.outcomes ?? []).filter((o) => !o.ok);
    if (bad.length) throw new Error(`facts of trial ${label} failed: ${JSON.stringify(bad)}`);
    await this.sendRetrying('policy', 'bundle.apply', {
      files: [{ name: `${label}.yaml`, content: opts.bundle ?? trialBundle(label, endpoints, opts.concurrency) }],
    });
    for (let i = 0; ; i++) {
      const g = await this.sendRetrying<{ members?: unknown[] }>('policy', 'group.get', { groupId: `g-${label}` });
      if ((g.members?.length ?? 0) >= endpoints) break;
      if (i > 300) throw new Error(`group g-${label} has ${g.members?.length ?? 0} of ${endpoints} members`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return fleet;
  }

  async requestCycle(label: string): Promise<string> {
    const r = await this.sendRetrying<{ cycleId: string }>('planner', 'cycle.request', { policyId: `p-${label}` });
    return r.cycleId;
  }

  async stop(): Promise<void> {
    await this.bus.close().catch(() => undefined);
    await this.stack.stop();
    await Promise.all(this.fleets.map((f) => f.stop()));
    if (this.ownsWorkDir) rmSync(this.workDir, { recursive: true, force: true });
  }
}
