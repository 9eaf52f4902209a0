import type { RecordedEvent } from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import { InvalidQueryError, rebuildProjection, runProjection, type ProjectionContext, type ProjectionDefinition, type ReadDocument, type ReadStore, type RunningProjection } from '@patchbay/read-store';

/**
 * The gateway's read models, fed from the event store by `runProjection` into the read store.
 * Every write goes through `tx.applyOnce` (guarded by the event's position) or is a keyed
 * upsert/delete, so a redelivered event changes nothing and a rebuild ends where a live run did.
 *
 * Documents that need the previous state of the same document (cycle waves, run steps) are read,
 * changed and written back with `applyOnce`: a repeat of the event is refused by the `_v` guard,
 * so the read-modify-write is idempotent too.
 */

/** Bumped whenever a projection's documents change shape: the gateway rebuilds them at start. */
export const READ_MODEL_VERSION = 2;

export const C = {
  endpoints: 'gw_endpoints',
  groups: 'gw_groups',
  groupMembers: 'gw_group_members',
  pendingUpdates: 'gw_pending_updates',
  policies: 'gw_policies',
  workflows: 'gw_workflows',
  workflowVersions: 'gw_workflow_versions',
  cycles: 'gw_cycles',
  runs: 'gw_endpoint_runs',
  meta: 'gw_meta',
} as const;

type Data = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const at = (e: RecordedEvent): string => e.metadata.recordedAt;
/** Key of a run document and of the endpoint-run edge. */
export const runKey = (cycleId: string, endpointId: string): string => `${cycleId}|${endpointId}`;

/** Output tails are kept short in the read model; the event log holds the full record. */
const TAIL = 2000;
const tail = (s: unknown): string => (typeof s === 'string' ? s.slice(-TAIL) : '');

// ---------------------------------------------------------------------------------------------
// Inventory: endpoints, reference groups and their members, pending updates
// ---------------------------------------------------------------------------------------------

/** Event types keyed by `endpointId`: without one the event is skipped (a runner retries a failing handler forever). */
const ENDPOINT_KEYED = new Set(['EndpointRegistered', 'EndpointSshIdentityChanged', 'EndpointLabelsChanged', 'EndpointRetired', 'HostKeyPinned', 'HostKeyPending', 'HostKeyMismatchDetected', 'FactsGathered', 'FactsGatheringFailed', 'EndpointReleased', 'EndpointRunFinished']);

async function handleInventory(e: RecordedEvent, tx: ProjectionContext): Promise<void> {
  const d = (e.data ?? {}) as Data;
  const endpointId = str(d['endpointId']);
  if (ENDPOINT_KEYED.has(e.type) && !endpointId) return;
  if (e.type.startsWith('ReferenceGroup') || e.type === 'GroupMembershipChanged') {
    if (!str(d['groupId'])) return;
  }
  switch (e.type) {
    case 'EndpointRegistered':
    case 'EndpointSshIdentityChanged': {
      const ssh = (d['ssh'] ?? {}) as Data;
      // Only where the key lives is shown, never a secret (events hold none either).
      const identity = { host: str(ssh['host']) ?? '', port: num(ssh['port']) ?? 22, user: str(ssh['user']) ?? '', sudo: ssh['sudo'] === true, keyRef: str(ssh['keyRef']) ?? null };
      const set: Data = { endpointId, ssh: identity, updatedAt: at(e) };
      if (e.type === 'EndpointRegistered') {
        const labels = (d['labels'] ?? {}) as Record<string, string>;
        Object.assign(set, { registered: true, retired: false, labels: labelList(labels), labelPairs: labelPairs(labels), source: str(d['source']) ?? '', registeredAt: at(e), hostKeyPolicy: str(d['hostKeyPolicy']) ?? null });
      }
      await tx.applyOnce(C.endpoints, endpointId!, { $set: set, $setOnInsert: { groupIds: [], hostKey: { state: 'unknown' }, hasSecurityUpdates: false, rebootRequired: false } });
      return;
    }
    case 'EndpointLabelsChanged': {
      const labels = (d['labels'] ?? {}) as Record<string, string>;
      await tx.applyOnce(C.endpoints, endpointId!, { $set: { endpointId, labels: labelList(labels), labelPairs: labelPairs(labels), updatedAt: at(e) } });
      return;
    }
    case 'EndpointRetired':
      await tx.applyOnce(C.endpoints, endpointId!, { $set: { endpointId, retired: true, retiredReason: str(d['reason']) ?? '', updatedAt: at(e) } });
      return;
    case 'HostKeyPinned':
    case 'HostKeyPending':
    case 'HostKeyMismatchDetected': {
      const key = ((e.type === 'HostKeyMismatchDetected' ? d['presented'] : d['key']) ?? {}) as Data;
      const state = e.type === 'HostKeyPinned' ? 'pinned' : e.type === 'HostKeyPending' ? 'pending' : 'mismatch';
      const pinned = e.type === 'HostKeyMismatchDetected' ? ((d['pinned'] ?? {}) as Data) : undefined;
      await tx.applyOnce(C.endpoints, endpointId!, {
        $set: {
          endpointId,
          hostKey: { state, algorithm: str(key['algorithm']) ?? null, fingerprint: str(key['fingerprint']) ?? null, decidedBy: str(d['decidedBy']) ?? null, pinnedFingerprint: pinned ? (str(pinned['fingerprint']) ?? null) : null, at: at(e) },
        },
      });
      return;
    }
    case 'FactsGathered': {
      const facts = (d['facts'] ?? {}) as Data;
      const updates = Array.isArray(facts['updates']) ? (facts['updates'] as Data[]) : [];
      const security = updates.filter((u) => u['security'] === true);
      const os = (facts['os'] ?? {}) as Data;
      const rebootRequired = facts['rebootRequired'] === true;
      // Pending updates are replaced as a whole: keyed deletes and upserts repeat harmlessly.
      const rows = tx.collection(C.pendingUpdates);
      await rows.deleteMany({ endpointId });
      if (updates.length > 0) {
        await rows.bulkWrite(
          updates.map((u, i) => {
            const _id = `${endpointId}|${i}`;
            return { upsertOne: { filter: { _id }, document: { _id, endpointId: endpointId!, name: str(u['name']) ?? '', from: str(u['from']) ?? null, to: str(u['to']) ?? '', arch: str(u['arch']) ?? null, origin: str(u['origin']) ?? null, security: u['security'] === true, severity: str(u['severity']) ?? null, advisory: str(u['advisory']) ?? null, gatheredAt: str(d['gatheredAt']) ?? at(e) } } };
          }),
        );
      }
      await tx.applyOnce(C.endpoints, endpointId!, {
        $set: {
          endpointId,
          facts: {
            gatheredAt: str(d['gatheredAt']) ?? at(e),
            os: { id: str(os['id']) ?? '', versionId: str(os['versionId']) ?? null, prettyName: str(os['prettyName']) ?? str(os['name']) ?? null },
            packageManager: str(facts['packageManager']) ?? 'unknown',
            updatesKnown: facts['updatesKnown'] !== false,
            updateCount: updates.length,
            securityUpdateCount: security.length,
            securityPackages: security.map((u) => ({ name: str(u['name']) ?? '', to: str(u['to']) ?? '', severity: str(u['severity']) ?? null, advisory: str(u['advisory']) ?? null })),
            rebootRequired,
          },
          hasSecurityUpdates: security.length > 0,
          rebootRequired,
          lastFactsError: null,
        },
      });
      return;
    }
    case 'FactsGatheringFailed':
      await tx.applyOnce(C.endpoints, endpointId!, { $set: { endpointId, lastFactsError: { code: str(d['code']) ?? '', message: str(d['message']) ?? '', at: str(d['at']) ?? at(e) } } });
      return;
    case 'ReferenceGroupDefined':
    case 'ReferenceGroupUpdated': {
      const def = (d['definition'] ?? {}) as Data;
      const groupId = str(d['groupId'])!;
      await tx.applyOnce(C.groups, groupId, { $set: { groupId, version: num(d['version']) ?? 1, definition: asJson(def), tier: str(def['tier']) ?? '', name: str(def['name']) ?? null, deleted: false, updatedAt: at(e) }, $setOnInsert: { memberCount: 0 } });
      return;
    }
    case 'ReferenceGroupDeleted':
      await tx.applyOnce(C.groups, str(d['groupId'])!, { $set: { groupId: str(d['groupId']), deleted: true, updatedAt: at(e) } });
      return;
    case 'GroupMembershipChanged': {
      const groupId = str(d['groupId'])!;
      const added = (Array.isArray(d['added']) ? d['added'] : []) as Data[];
      const removed = (Array.isArray(d['removed']) ? d['removed'] : []) as Data[];
      const members = tx.collection(C.groupMembers);
      for (const m of added) {
        const id = str(m?.['endpointId']);
        if (!id) continue;
        await members.upsertOne({ _id: `${groupId}|${id}` }, { _id: `${groupId}|${id}`, groupId, endpointId: id, reason: str(m['reason']) ?? '', since: at(e) });
        await tx.applyOnce(C.endpoints, id, { $set: { endpointId: id }, $addToSet: { groupIds: groupId } });
      }
      for (const m of removed) {
        const id = str(m?.['endpointId']);
        if (!id) continue;
        await members.deleteMany({ _id: `${groupId}|${id}` });
        await tx.applyOnce(C.endpoints, id, { $set: { endpointId: id }, $pull: { groupIds: groupId } });
      }
      // The group's own counter last: it is what says the event was applied.
      await tx.applyOnce(C.groups, groupId, { $set: { groupId }, $inc: { memberCount: added.length - removed.length } });
      return;
    }
    case 'EndpointReleased':
    case 'EndpointRunFinished': {
      const cycleId = str(d['cycleId']);
      const lastCycle = { cycleId, state: e.type === 'EndpointReleased' ? 'released' : (str(d['outcome']) ?? 'finished'), at: at(e) };
      await tx.applyOnce(C.endpoints, endpointId!, { $set: { endpointId, lastCycle } });
      return;
    }
    default:
      return;
  }
}

/** Labels as a list: keys may hold `.` and `/`, which MongoDB servers refuse as document keys. */
const labelList = (labels: Record<string, string>): Array<{ key: string; value: string }> => Object.entries(labels).map(([key, value]) => ({ key, value }));

/**
 * Definitions are kept as JSON text: user-written documents (template params, selectors) may hold
 * keys with `.` or `$` that MongoDB servers refuse, and they are only ever shown whole.
 */
const asJson = (v: unknown): string => JSON.stringify(v ?? {});

/** `key=value` strings, so a label filter is one `$all` whatever characters the keys hold. */
const labelPairs = (labels: Record<string, string>): string[] => Object.entries(labels).map(([k, v]) => `${k}=${v}`);

// ---------------------------------------------------------------------------------------------
// Definitions: policies and workflow templates
// ---------------------------------------------------------------------------------------------

async function handleDefinitions(e: RecordedEvent, tx: ProjectionContext): Promise<void> {
  const d = (e.data ?? {}) as Data;
  // Events without their key are skipped: the runner would otherwise retry them forever.
  if (!str(d['policyId']) && !str(d['workflowId'])) return;
  switch (e.type) {
    case 'PatchPolicyDefined':
    case 'PatchPolicyUpdated': {
      const def = (d['definition'] ?? {}) as Data;
      const policyId = str(d['policyId'])!;
      await tx.applyOnce(C.policies, policyId, { $set: { policyId, version: num(d['version']) ?? 1, definition: asJson(def), name: str(def['name']) ?? null, deleted: false, updatedAt: at(e) } });
      return;
    }
    case 'PatchPolicyDeleted':
      await tx.applyOnce(C.policies, str(d['policyId'])!, { $set: { policyId: str(d['policyId']), deleted: true, updatedAt: at(e) } });
      return;
    case 'WorkflowTemplateVersionSaved': {
      const workflowId = str(d['workflowId'])!;
      const version = num(d['version']) ?? 1;
      const template = (d['template'] ?? {}) as Data;
      const key = `${workflowId}@${String(version).padStart(6, '0')}`;
      await tx.collection(C.workflowVersions).upsertOne({ _id: key }, { _id: key, workflowId, version, template: asJson(template), savedAt: at(e), savedBy: e.metadata.actor });
      await tx.applyOnce(C.workflows, workflowId, { $set: { workflowId, lastVersion: version, name: str(template['name']) ?? null, retired: false, updatedAt: at(e) } });
      return;
    }
    case 'WorkflowTemplateRetired':
      await tx.applyOnce(C.workflows, str(d['workflowId'])!, { $set: { workflowId: str(d['workflowId']), retired: true, updatedAt: at(e) } });
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Cycles and endpoint runs
// ---------------------------------------------------------------------------------------------

interface WaveDoc {
  index: number;
  name: string;
  size: number;
  state: 'planned' | 'released' | 'completed';
  succeeded: number;
  failed: number;
}
interface CycleDoc extends ReadDocument {
  waves?: WaveDoc[];
  approvals?: Array<Record<string, unknown>>;
}

const FINAL = new Set(['aborted', 'completed']);

async function handleCycles(e: RecordedEvent, tx: ProjectionContext): Promise<void> {
  const d = (e.data ?? {}) as Data;
  const cycleId = str(d['cycleId']);
  if (!cycleId) return;
  const cycles = tx.collection<CycleDoc>(C.cycles);
  const setCycle = (set: Data, extra: Record<string, unknown> = {}) => tx.applyOnce(C.cycles, cycleId, { $set: { cycleId, updatedAt: at(e), ...set }, ...extra });
  const status = async (next: string): Promise<Data> => {
    // A final status is never left (a late event of a finished run does not reopen the cycle).
    const cur = await cycles.findOne({ _id: cycleId });
    return cur && FINAL.has(String(cur['status'])) ? {} : { status: next };
  };
  switch (e.type) {
    case 'CycleRequested':
      await setCycle(
        { kind: str(d['kind']) ?? 'manual', policyId: str(d['policyId']) ?? '', requestedBy: str(d['requestedBy']) ?? e.metadata.actor, requestedAt: str(d['requestedAt']) ?? at(e), notBefore: str(d['notBefore']) ?? null, emergency: d['emergency'] ?? null, ...(await status('requested')) },
        { $setOnInsert: { waves: [], approvals: [], counts: { planned: 0, skipped: 0, released: 0, succeeded: 0, failed: 0, cancelled: 0 } } },
      );
      return;
    case 'CyclePlanned': {
      const header = (d['header'] ?? {}) as Data;
      const waves: WaveDoc[] = (Array.isArray(header['waves']) ? (header['waves'] as Data[]) : []).map((w) => ({ index: num(w['index']) ?? 0, name: str(w['name']) ?? '', size: num(w['size']) ?? 0, state: 'planned', succeeded: 0, failed: 0 }));
      const policy = (header['policy'] ?? {}) as Data;
      await setCycle({ planHash: str(d['planHash']) ?? null, waves, policyVersion: num(policy['version']) ?? null, plannedAt: at(e), 'counts.planned': num(d['endpoints']) ?? 0, 'counts.skipped': num(d['skipped']) ?? 0, ...(await status('planned')) });
      return;
    }
    case 'CyclePlanPartRecorded': {
      const endpoints = (Array.isArray(d['endpoints']) ? d['endpoints'] : []) as Data[];
      for (const p of endpoints) {
        const endpointId = str(p?.['endpointId']);
        if (!endpointId) continue;
        const packages = Array.isArray(p['packages']) ? (p['packages'] as Data[]) : [];
        await tx.applyOnce(C.runs, runKey(cycleId, endpointId), {
          $set: { cycleId, endpointId, wave: num(p['wave']) ?? 0, groupId: str(p['groupId']) ?? null, tier: str(p['tier']) ?? null, packages: packages.map((x) => ({ name: str(x['name']) ?? '', to: str(x['to']) ?? '', security: x['security'] === true })), rebootRequired: p['rebootRequired'] === true },
          $setOnInsert: { status: 'planned', steps: [], reboots: [], currentStep: null },
        });
      }
      return;
    }
    case 'CycleApprovalRequired':
      await setCycle({ approvalsRequired: num(d['minApprovals']) ?? 1, approvers: Array.isArray(d['approvers']) ? d['approvers'] : [], ...(await status('awaiting-approval')) });
      return;
    case 'CycleApproved': {
      const approved = (num(d['approvals']) ?? 1) >= (num(d['required']) ?? 1);
      await setCycle(
        { approvalsRequired: num(d['required']) ?? 1, ...(approved ? await status('approved') : {}) },
        { $push: { approvals: { by: str(d['by']) ?? '', auto: d['auto'] === true, comment: str(d['comment']) ?? null, at: at(e) } } },
      );
      return;
    }
    case 'CycleStarted':
      await setCycle({ startedAt: str(d['at']) ?? at(e), ...(await status('running')) });
      return;
    case 'WaveReleased':
    case 'WaveCompleted': {
      const cur = await cycles.findOne({ _id: cycleId });
      const index = num(d['wave']) ?? 0;
      const waves = [...(cur?.waves ?? [])];
      let w = waves.find((x) => x.index === index);
      if (!w) waves.push((w = { index, name: str(d['name']) ?? `wave ${index}`, size: num(d['endpoints']) ?? 0, state: 'planned', succeeded: 0, failed: 0 }));
      if (e.type === 'WaveReleased') w.state = 'released';
      else Object.assign(w, { state: 'completed', succeeded: num(d['succeeded']) ?? w.succeeded, failed: num(d['failed']) ?? w.failed });
      waves.sort((a, b) => a.index - b.index);
      await setCycle({ waves });
      return;
    }
    case 'EndpointReleased': {
      const endpointId = str(d['endpointId']);
      if (!endpointId) return;
      await tx.applyOnce(C.runs, runKey(cycleId, endpointId), { $set: { cycleId, endpointId, wave: num(d['wave']) ?? 0, status: 'released', releasedAt: at(e) }, $setOnInsert: { steps: [], reboots: [], currentStep: null } });
      await setCycle({}, { $inc: { 'counts.released': 1 } });
      return;
    }
    case 'EndpointRunFinished': {
      const outcome = str(d['outcome']) ?? 'failed';
      const cur = await cycles.findOne({ _id: cycleId });
      const waves = [...(cur?.waves ?? [])];
      const w = waves.find((x) => x.index === (num(d['wave']) ?? -1));
      if (w && outcome === 'succeeded') w.succeeded += 1;
      if (w && outcome === 'failed') w.failed += 1;
      await setCycle({ waves }, { $inc: { [`counts.${outcome === 'succeeded' || outcome === 'failed' ? outcome : 'cancelled'}`]: 1 } });
      return;
    }
    case 'CycleHalted':
      await setCycle({ haltReason: { code: str(d['code']) ?? '', reason: str(d['reason']) ?? '', failed: num(d['failed']) ?? 0, threshold: num(d['threshold']) ?? 0, at: at(e) }, ...(await status('halted')) });
      return;
    case 'CyclePaused':
      await setCycle({ pause: { by: str(d['by']) ?? '', reason: str(d['reason']) ?? '', windowClosed: d['windowClosed'] === true, at: at(e) }, ...(await status('paused')) });
      return;
    case 'CycleResumed':
      await setCycle({ pause: null, ...(await status('running')) });
      return;
    case 'CycleAborted':
      await setCycle({ abort: { by: str(d['by']) ?? '', reason: str(d['reason']) ?? '', at: at(e) }, finishedAt: at(e), ...(await status('aborted')) });
      return;
    case 'CycleCompleted':
      await setCycle({ finishedAt: at(e), ...(await status('completed')) });
      return;
    default:
      if (e.metadata.stream.startsWith('run-')) await handleRun(e, tx, cycleId);
  }
}

interface StepDoc {
  stepKey: string;
  stepId: string;
  type: string | null;
  phase: string | null;
  attempt: number;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  exitCode: number | null;
  code: string | null;
  message: string | null;
  stdoutTail: string;
  stderrTail: string;
}
interface RunDoc extends ReadDocument {
  steps?: StepDoc[];
  reboots?: Array<Record<string, unknown>>;
}

async function handleRun(e: RecordedEvent, tx: ProjectionContext, cycleId: string): Promise<void> {
  const d = e.data as Data;
  const endpointId = str(d['endpointId']);
  if (!endpointId) return;
  const key = runKey(cycleId, endpointId);
  const cur = await tx.collection<RunDoc>(C.runs).findOne({ _id: key });
  const steps = [...(cur?.steps ?? [])];
  const reboots = [...(cur?.reboots ?? [])];
  const stepKey = str(d['stepKey']);
  const attempt = num(d['attempt']) ?? 1;
  const step = (): StepDoc => {
    let s = steps.find((x) => x.stepKey === stepKey && x.attempt === attempt);
    if (!s) {
      s = { stepKey: stepKey ?? '', stepId: str(d['stepId']) ?? stepKey ?? '', type: null, phase: null, attempt, status: 'running', startedAt: null, finishedAt: null, durationMs: null, exitCode: null, code: null, message: null, stdoutTail: '', stderrTail: '' };
      steps.push(s);
    }
    return s;
  };
  const output = (s: StepDoc): void => {
    const commands = (Array.isArray(d['commands']) ? d['commands'] : []) as Data[];
    const last = commands[commands.length - 1];
    if (!last) return;
    s.exitCode = typeof last['exitCode'] === 'number' ? last['exitCode'] : null;
    s.stdoutTail = tail(last['stdoutTail']);
    s.stderrTail = tail(last['stderrTail']);
  };
  const set: Data = { cycleId, endpointId };
  switch (e.type) {
    case 'RunStarted':
    case 'RunResumed':
      Object.assign(set, { status: 'running', executorId: str(d['executorId']) ?? null }, e.type === 'RunStarted' ? { startedAt: at(e) } : {});
      break;
    case 'StepStarted': {
      const s = step();
      Object.assign(s, { stepId: str(d['stepId']) ?? s.stepId, type: str(d['type']) ?? null, phase: str(d['phase']) ?? null, status: 'running', startedAt: at(e) });
      Object.assign(set, { currentStep: s.stepKey, status: 'running' });
      break;
    }
    case 'StepSucceeded': {
      const s = step();
      Object.assign(s, { status: 'succeeded', finishedAt: at(e), durationMs: num(d['durationMs']) ?? null });
      output(s);
      break;
    }
    case 'StepFailed': {
      const s = step();
      Object.assign(s, { status: d['willRetry'] === true ? 'retrying' : 'failed', finishedAt: at(e), durationMs: num(d['durationMs']) ?? null, code: str(d['code']) ?? null, message: str(d['message']) ?? null });
      output(s);
      break;
    }
    case 'StepSkipped': {
      const s = step();
      Object.assign(s, { status: 'skipped', finishedAt: at(e), message: str(d['reason']) ?? null });
      break;
    }
    case 'RebootIssued':
      reboots.push({ stepKey, bootIdBefore: str(d['bootIdBefore']) ?? null, bootIdAfter: null, issuedAt: at(e), confirmedAt: null, waitedMs: null });
      break;
    case 'RebootConfirmed': {
      const r = [...reboots].reverse().find((x) => x['stepKey'] === stepKey && x['confirmedAt'] === null);
      const done = { stepKey, bootIdBefore: str(d['bootIdBefore']) ?? null, bootIdAfter: str(d['bootIdAfter']) ?? null, confirmedAt: at(e), waitedMs: num(d['waitedMs']) ?? null };
      if (r) Object.assign(r, done);
      else reboots.push({ issuedAt: null, ...done });
      break;
    }
    case 'RunSucceeded':
    case 'RunFailed':
    case 'RunCancelled':
      Object.assign(set, {
        status: e.type === 'RunSucceeded' ? 'succeeded' : e.type === 'RunFailed' ? 'failed' : 'cancelled',
        finishedAt: at(e),
        durationMs: num(d['durationMs']) ?? null,
        code: str(d['code']) ?? null,
        message: str(d['message']) ?? str(d['reason']) ?? null,
        currentStep: null,
      });
      break;
    default:
      return;
  }
  // A final status stays final (an executor's late step event after a cancel does not reopen it).
  if (cur && ['succeeded', 'failed', 'cancelled'].includes(String(cur['status'])) && set['status'] !== undefined && !['RunSucceeded', 'RunFailed', 'RunCancelled'].includes(e.type)) delete set['status'];
  await tx.applyOnce(C.runs, key, { $set: { ...set, steps, reboots, updatedAt: at(e) } });
}

/** The projections the gateway runs, each owning its collections and indexes. */
export const PROJECTIONS: readonly ProjectionDefinition[] = [
  {
    name: 'gateway.inventory',
    categories: ['endpoint', 'group', 'cycle'],
    collections: [C.endpoints, C.groups, C.groupMembers, C.pendingUpdates],
    setup: async (rs) => {
      await rs.collection(C.endpoints).createIndex({ groupIds: 1 });
      await rs.collection(C.endpoints).createIndex({ hasSecurityUpdates: 1 });
      await rs.collection(C.groupMembers).createIndex({ groupId: 1 });
      await rs.collection(C.pendingUpdates).createIndex({ endpointId: 1 });
    },
    handle: handleInventory,
  },
  { name: 'gateway.definitions', categories: ['policy', 'workflow'], collections: [C.policies, C.workflows, C.workflowVersions], setup: async (rs) => void (await rs.collection(C.workflowVersions).createIndex({ workflowId: 1 })), handle: handleDefinitions },
  {
    name: 'gateway.cycles',
    categories: ['cycle', 'run'],
    collections: [C.cycles, C.runs],
    setup: async (rs) => {
      await rs.collection(C.runs).createIndex({ cycleId: 1 });
      await rs.collection(C.runs).createIndex({ cycleId: 1, status: 1 });
      await rs.collection(C.cycles).createIndex({ status: 1 });
    },
    handle: handleCycles,
  },
];

/** The gateway's running projections. */
export interface ReadModels {
  caughtUp(): Promise<void>;
  /** Drops every read model and replays the event store; resolves when caught up again. */
  rebuild(): Promise<Array<{ name: string; position: bigint | undefined }>>;
  stop(): Promise<void>;
}

/**
 * Starts the gateway's projections. When the stored read-model version differs from
 * {@link READ_MODEL_VERSION} (or is absent), every projection is dropped and replayed first.
 */
export async function startReadModels(options: {
  store: EventStore;
  readStore: ReadStore;
  onError?: (error: unknown, event?: RecordedEvent) => void;
  /** Told about an event the read store refuses outright (`INVALID_QUERY`): skipped, since a retry cannot succeed. */
  onSkipped?: (error: unknown, event: RecordedEvent) => void;
  pollIntervalMs?: number;
}): Promise<ReadModels> {
  const { store, readStore } = options;
  const meta = readStore.collection(C.meta);
  const stored = await meta.findOne({ _id: 'read-models' });
  if (stored?.['version'] !== READ_MODEL_VERSION) {
    for (const p of PROJECTIONS) await rebuildProjection({ readStore, name: p.name, ...(p.collections ? { collections: p.collections } : {}) });
    await meta.upsertOne({ _id: 'read-models' }, { _id: 'read-models', version: READ_MODEL_VERSION });
  }
  const running: RunningProjection[] = [];
  for (const p of PROJECTIONS) {
    // A refusal by the read store's dialect is deterministic: retrying would stall the projection forever.
    const handle = async (event: RecordedEvent, tx: ProjectionContext): Promise<void> => {
      try {
        await p.handle(event, tx);
      } catch (error) {
        if (!(error instanceof InvalidQueryError)) throw error;
        options.onSkipped?.(error, event);
      }
    };
    running.push(await runProjection({ ...p, handle, store, readStore, ...(options.onError ? { onError: options.onError } : {}), pollIntervalMs: options.pollIntervalMs ?? 50 }));
  }
  return {
    caughtUp: async () => void (await Promise.all(running.map((r) => r.caughtUp()))),
    rebuild: async () => {
      for (const r of running) await r.rebuild();
      await Promise.all(running.map((r) => r.caughtUp()));
      return Promise.all(running.map(async (r) => ({ name: r.name, position: await r.position() })));
    },
    stop: async () => {
      for (const r of running) await r.stop();
    },
  };
}
