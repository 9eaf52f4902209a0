import type { EndpointFacts } from '@patchbay/contracts';
import { PatchbayError } from '@patchbay/contracts';
import type { RemoteExecutor, RemoteTarget } from '@patchbay/remote';
import { markHeap, releaseHeapAfter, withSpan, type HeapRelease } from '@patchbay/telemetry';
import type { EndpointState } from './domain/endpoint.js';
import { assembleFacts, BASE_COMMANDS, packageCommands, packageManagerOf, type CommandOutcome, type FactCommand } from './domain/facts/gather.js';
import { MAX_OUTPUT_BYTES } from './domain/facts/problems.js';
import type { InventoryService } from './inventory-service.js';

/** Outcome of gathering one endpoint. */
export type GatherOutcome = { endpointId: string; ok: true; facts: EndpointFacts } | { endpointId: string; ok: false; code: string; message: string };

export interface FactsGathererOptions {
  concurrency: number;
  commandTimeoutMs: number;
  /** Clock, for the event's timestamps. */
  now?: () => Date;
  /**
   * A round that grew V8's heap by at least this much ends with a full collection (default 64 MiB;
   * 0: never): otherwise the dead objects of thousands of SSH sessions stay resident until V8's next
   * full collection, which an idle inventory may not run for hours.
   */
  releaseHeapAfterBytes?: number;
  /** Told when a round's end gave memory back. */
  onHeapReleased?: (release: HeapRelease) => void;
}

const DEFAULT_RELEASE_AFTER_BYTES = 64 * 1024 * 1024;

/**
 * Gathers facts over SSH through the remote executor (argv only) and records them as
 * `FactsGathered`, or `FactsGatheringFailed` with the error's stable code. Never throws for an
 * endpoint's failure: an unreachable or odd host is a recorded outcome.
 */
export class FactsGatherer {
  private running: Promise<GatherOutcome[]> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inventory: InventoryService,
    private readonly remote: RemoteExecutor,
    private readonly options: FactsGathererOptions,
  ) {}

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  private async run(target: RemoteTarget, command: FactCommand): Promise<CommandOutcome> {
    try {
      const r = await this.remote.run(target, command.argv, {
        sudo: !!command.privileged && target.user !== 'root' && !!target.sudo,
        timeoutMs: this.options.commandTimeoutMs,
        captureStdout: MAX_OUTPUT_BYTES,
        tailLines: 20,
      });
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout ?? '', stderr: r.stderrTail, truncated: r.stdoutBytes > MAX_OUTPUT_BYTES };
    } catch (err) {
      if (err instanceof PatchbayError && ['HOST_UNREACHABLE', 'AUTH_FAILED', 'HOST_KEY_REJECTED', 'SECRET_UNAVAILABLE', 'CANCELLED'].includes(err.code)) throw err;
      return { error: err instanceof PatchbayError ? `${err.code}: ${err.message}` : String(err) };
    }
  }

  /** Collects facts from one endpoint; connection-level failures reject with the remote error. */
  async collect(endpointId: string, state: EndpointState, refresh: boolean): Promise<EndpointFacts> {
    const ssh = state.ssh!;
    const target: RemoteTarget = { endpointId, host: ssh.host, port: ssh.port, user: ssh.user, sudo: ssh.sudo, ...(ssh.keyRef ? { keyRef: ssh.keyRef } : {}) };
    const outcomes: Record<string, CommandOutcome> = {};
    // The first command opens the connection (and passes the host-key check) alone; the rest share it.
    outcomes['os-release'] = await this.run(target, BASE_COMMANDS[0]!);
    await Promise.all(BASE_COMMANDS.slice(1).map(async (c) => (outcomes[c.key] = await this.run(target, c))));
    const os = outcomes['os-release'];
    const pm = os && !('error' in os) && os.exitCode === 0 ? packageManagerOf(os.stdout) : 'unknown';
    const commands = packageCommands(pm, refresh);
    const refreshCmd = commands.find((c) => c.key === 'refresh');
    if (refreshCmd) outcomes['refresh'] = await this.run(target, refreshCmd);
    await Promise.all(commands.filter((c) => c.key !== 'refresh').map(async (c) => (outcomes[c.key] = await this.run(target, c))));
    const facts = assembleFacts(outcomes);
    const r = outcomes['refresh'];
    if (r && ('error' in r || r.exitCode !== 0)) facts.problems.push({ source: 'refresh', code: 'FACTS_COMMAND_FAILED', message: 'error' in r ? r.error.slice(0, 500) : `exit code ${r.exitCode}` });
    return facts;
  }

  /** Gathers and records one endpoint, in a span of its own. */
  gatherOne(endpointId: string, refresh: boolean): Promise<GatherOutcome> {
    return withSpan('inventory gather-facts', () => this.gatherOneInSpan(endpointId, refresh), { tracer: '@patchbay/inventory', attributes: { 'patchbay.endpoint.id': endpointId } });
  }

  private async gatherOneInSpan(endpointId: string, refresh: boolean): Promise<GatherOutcome> {
    const meta = (kind: string) => ({ commandId: `facts:${endpointId}:${kind}:${this.now()}`, actor: 'inventory' });
    const { state } = await this.inventory.repository.load(endpointId);
    if (state.status !== 'active' || !state.ssh) return { endpointId, ok: false, code: state.status === 'retired' ? 'ENDPOINT_RETIRED' : 'ENDPOINT_NOT_FOUND', message: `endpoint ${endpointId} is ${state.status}` };
    let facts: EndpointFacts;
    try {
      facts = await this.collect(endpointId, state, refresh);
    } catch (err) {
      await this.remote.close(endpointId).catch(() => undefined);
      const code = err instanceof PatchbayError ? err.code : 'FACTS_GATHERING_FAILED';
      const message = (err instanceof Error ? err.message : String(err)).slice(0, 2000);
      await this.inventory.execute({ type: 'RecordFactsFailure', endpointId, at: this.now(), code, message }, meta('failed')).catch(() => undefined);
      return { endpointId, ok: false, code, message };
    }
    // Facts come in rounds an hour apart: holding a connection to every endpoint in between would
    // cost a descriptor (and a session on the endpoint) per endpoint for nothing.
    await this.remote.close(endpointId).catch(() => undefined);
    await this.inventory.execute({ type: 'RecordFacts', endpointId, gatheredAt: this.now(), facts }, meta('gathered'));
    return { endpointId, ok: true, facts };
  }

  /** Gathers from the given endpoints (default: every active one), `concurrency` at a time. */
  async gather(endpointIds: readonly string[] | undefined, refresh: boolean): Promise<GatherOutcome[]> {
    const mark = markHeap();
    const ids = endpointIds ?? [...(await this.inventory.repository.loadAll())].filter(([, e]) => e.state.status === 'active').map(([id]) => id);
    const results: GatherOutcome[] = new Array(ids.length);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const i = next++;
        try {
          results[i] = await this.gatherOne(ids[i]!, refresh);
        } catch (err) {
          results[i] = { endpointId: ids[i]!, ok: false, code: err instanceof PatchbayError ? err.code : 'INTERNAL', message: String((err as Error).message) };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, ids.length) }, worker));
    const minGrowth = this.options.releaseHeapAfterBytes ?? DEFAULT_RELEASE_AFTER_BYTES;
    const released = minGrowth > 0 ? releaseHeapAfter(mark, minGrowth) : undefined;
    if (released) this.options.onHeapReleased?.(released);
    return results;
  }

  /** Starts the schedule; a round still running when the next is due is not doubled. */
  start(intervalSeconds: number, onRound?: (outcomes: GatherOutcome[]) => void, onError?: (err: unknown) => void): void {
    if (intervalSeconds <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.gather(undefined, false);
      this.running.then(
        (o) => onRound?.(o),
        (e) => onError?.(e),
      ).finally(() => (this.running = undefined));
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a running round. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
