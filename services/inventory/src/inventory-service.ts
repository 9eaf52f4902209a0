import type { HostKey, HostKeyPolicy, InventoryFormat, Labels, SshIdentity } from '@patchbay/contracts';
import { PatchbayError } from '@patchbay/contracts';
import { WrongExpectedVersionError, type EventStore } from '@patchbay/event-store';
import type { PresentedHostKey } from '@patchbay/remote';
import { withSpan } from '@patchbay/telemetry';
import { decide, evolve, hostKeyTrusted, type EndpointCommand, type EndpointEvent, type EndpointState } from './domain/endpoint.js';
import { InventoryImportError } from './domain/errors.js';
import { inventoryToSpecs, type SpecDefaults } from './domain/import/endpoint-spec.js';
import { importSource, planImport, type ImportPlan } from './domain/import/plan.js';
import { EndpointRepository, type CommandMeta } from './endpoint-repository.js';

/**
 * Another writer changed an endpoint between planning and writing. On a store with an atomic
 * multi-stream append nothing of the import was stored (`details.applied` 0, `details.atomic`
 * true); on one without, the changes before the conflicting endpoint were. Either way re-running
 * the same import completes it.
 */
export class ImportInterruptedError extends PatchbayError {
  constructor(applied: number, total: number, cause: PatchbayError, atomic = false) {
    const stream = (cause as { stream?: unknown }).stream;
    super(
      'INVENTORY_IMPORT_INTERRUPTED',
      atomic
        ? `import stopped, nothing stored (${total} endpoint changes): ${cause.message}; run the same import again to complete it`
        : `import stopped after ${applied} of ${total} endpoint changes: ${cause.message}; run the same import again to complete it`,
      { applied, total, cause: cause.code, atomic, ...(typeof stream === 'string' ? { stream } : {}) },
    );
  }
}

export interface ImportRequest {
  format: InventoryFormat;
  fileName: string;
  content: string;
  retireMissing: boolean;
  hostKeyPolicy?: HostKeyPolicy;
  dryRun: boolean;
  defaults: SpecDefaults;
}

export interface ImportResult {
  source: string;
  dryRun: boolean;
  summary: ImportPlan['summary'];
  /** Events appended (0 for a dry run or an unchanged file). */
  eventsAppended: number;
}

/** A read-model view of one endpoint as queries return it. */
export interface EndpointView {
  endpointId: string;
  status: EndpointState['status'];
  labels: Labels;
  ssh?: SshIdentity;
  source?: string;
  hostKeyPolicy?: HostKeyPolicy;
  pinnedKey?: HostKey;
  pendingKey?: HostKey;
  mismatchedKey?: HostKey;
  facts?: EndpointState['facts'];
  lastFailure?: EndpointState['lastFailure'];
  revision: number;
}

const toView = (endpointId: string, state: EndpointState, revision: number): EndpointView => ({
  endpointId,
  status: state.status,
  labels: state.labels,
  ...(state.ssh ? { ssh: state.ssh } : {}),
  ...(state.source ? { source: state.source } : {}),
  ...(state.hostKeyPolicy ? { hostKeyPolicy: state.hostKeyPolicy } : {}),
  ...(state.pinnedKey ? { pinnedKey: state.pinnedKey } : {}),
  ...(state.pendingKey ? { pendingKey: state.pendingKey } : {}),
  ...(state.mismatchedKey ? { mismatchedKey: state.mismatchedKey } : {}),
  ...(state.facts ? { facts: state.facts } : {}),
  ...(state.lastFailure ? { lastFailure: state.lastFailure } : {}),
  revision,
});

/**
 * The inventory's application layer: loads an endpoint, asks the decider, appends with the
 * expected revision and deterministic event ids. Knows nothing of NATS or NestJS.
 */
export class InventoryService {
  readonly repository: EndpointRepository;

  constructor(
    store: EventStore,
    private readonly defaultHostKeyPolicy: HostKeyPolicy,
    /** Structured log; fields are ids, codes and fingerprints, never payloads or secrets. */
    private readonly log: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {
    this.repository = new EndpointRepository(store);
  }

  /**
   * Runs one endpoint command. A concurrent writer (WRONG_EXPECTED_VERSION) makes it reload and
   * decide again, a few times; the decider sees the newer state, so the retry stays correct.
   */
  async execute(command: EndpointCommand, meta: CommandMeta): Promise<{ state: EndpointState; revision: number; appended: number; events: EndpointEvent[] }> {
    for (let attempt = 0; ; attempt++) {
      const { state, revision } = await this.repository.load(command.endpointId);
      const events = decide(command, state);
      try {
        const r = await this.repository.append(command.endpointId, events, revision, meta);
        return { state: events.reduce(evolve, state), revision: r?.nextExpectedRevision ?? revision, appended: r && !r.duplicate ? events.length : 0, events };
      } catch (err) {
        if (err instanceof WrongExpectedVersionError && attempt < 4) continue;
        throw err;
      }
    }
  }

  /** One endpoint as a view; `ENDPOINT_NOT_FOUND` when it never existed. */
  async get(endpointId: string): Promise<EndpointView> {
    const { state, revision } = await this.repository.load(endpointId);
    if (state.status === 'unknown') throw new PatchbayError('ENDPOINT_NOT_FOUND', `endpoint ${endpointId} is not registered`, { endpointId });
    return toView(endpointId, state, revision);
  }

  /** All endpoints (active, and retired when asked). */
  async list(includeRetired: boolean): Promise<EndpointView[]> {
    const all = await this.repository.loadAll();
    return [...all]
      .filter(([, { state }]) => state.status === 'active' || (includeRetired && state.status === 'retired'))
      .map(([id, { state, revision }]) => toView(id, state, revision))
      .sort((a, b) => (a.endpointId < b.endpointId ? -1 : 1));
  }

  /**
   * Imports an inventory file, all or nothing: the whole file is parsed and validated first
   * (any issue → `InventoryImportError`, nothing stored); then the plan's per-endpoint changes
   * are appended with expected revisions and ids derived from the command id: in one
   * transaction when the store's `atomicMultiStreamAppend` is true (a failure stores nothing),
   * else one append per endpoint. Either way an interrupted import is completed by running it
   * again: the plan is recomputed against what was stored, so finished endpoints produce
   * nothing and the rest are written.
   */
  async import(request: ImportRequest, meta: CommandMeta): Promise<ImportResult> {
    return withSpan('inventory import', (span) => this.importInSpan(request, meta, (k, v) => span.setAttribute(k, v)), { tracer: '@patchbay/inventory', attributes: { 'patchbay.inventory.file': request.fileName, 'patchbay.inventory.format': request.format } });
  }

  private async importInSpan(request: ImportRequest, meta: CommandMeta, attribute: (key: string, value: number) => void): Promise<ImportResult> {
    const { specs, issues } = inventoryToSpecs(request.format, request.content, request.fileName, {
      defaults: request.defaults,
      ...(request.hostKeyPolicy ? { hostKeyPolicy: request.hostKeyPolicy } : {}),
    });
    if (issues.length) throw new InventoryImportError(issues);
    const current = await this.repository.loadAll();
    const source = importSource(request.format, request.fileName);
    const plan = planImport(specs, current, { source, retireMissing: request.retireMissing });
    attribute('patchbay.inventory.endpoints', plan.summary.endpoints);
    attribute('patchbay.inventory.changes', plan.changes.length);
    if (request.dryRun) return { source, dryRun: true, summary: plan.summary, eventsAppended: 0 };
    let eventsAppended = 0;
    if (this.repository.atomicMultiStreamAppend) {
      // One transaction for the whole import: chunks would each commit and break all-or-nothing.
      let results: Awaited<ReturnType<EndpointRepository['appendMany']>>;
      try {
        results = await this.repository.appendMany(plan.changes, meta);
      } catch (err) {
        if (err instanceof WrongExpectedVersionError) throw new ImportInterruptedError(0, plan.changes.length, err, true);
        throw err;
      }
      results.forEach((r, i) => {
        if (r && !r.duplicate) eventsAppended += plan.changes[i]!.events.length;
      });
      return { source, dryRun: false, summary: plan.summary, eventsAppended };
    }
    // A store without multi-stream transactions (KurrentDB): one append per endpoint; a crash
    // half-way is completed by re-running, thanks to the deterministic event ids.
    for (let i = 0; i < plan.changes.length; i++) {
      const change = plan.changes[i]!;
      try {
        const r = await this.repository.append(change.endpointId, change.events, change.expectedRevision, meta);
        if (r && !r.duplicate) eventsAppended += change.events.length;
      } catch (err) {
        if (err instanceof WrongExpectedVersionError) throw new ImportInterruptedError(i, plan.changes.length, err);
        throw err;
      }
    }
    return { source, dryRun: false, summary: plan.summary, eventsAppended };
  }

  /**
   * The host-key decision for a connection (the `HostKeyVerifier` of the remote executor):
   * records first contact (pinned on first use, or pending for an operator) and mismatches as
   * events, then accepts only the pinned key. Never throws: any failure rejects the connection.
   */
  async verifyHostKey(endpointId: string, presented: PresentedHostKey, actor = 'inventory'): Promise<'accept' | 'reject'> {
    const key: HostKey = { algorithm: presented.algorithm, fingerprint: presented.sha256Fingerprint };
    try {
      const { state, events } = await this.execute(
        { type: 'ObserveHostKey', endpointId, presented: key, defaultPolicy: this.defaultHostKeyPolicy },
        { commandId: `host-key:${endpointId}:${key.fingerprint}`, actor },
      );
      for (const e of events) {
        if (e.type === 'HostKeyMismatchDetected') this.log('warn', 'host key mismatch: connection refused', { endpointId, pinned: e.data.pinned.fingerprint, presented: key.fingerprint });
        else if (e.type === 'HostKeyPending') this.log('warn', 'unknown host key waits for accept-host-key', { endpointId, presented: key.fingerprint });
        else if (e.type === 'HostKeyPinned') this.log('info', 'host key pinned on first use', { endpointId, fingerprint: key.fingerprint });
      }
      return hostKeyTrusted(state, key) ? 'accept' : 'reject';
    } catch (err) {
      this.log('warn', 'host key check failed: connection refused', { endpointId, code: err instanceof PatchbayError ? err.code : 'INTERNAL' });
      return 'reject';
    }
  }
}
