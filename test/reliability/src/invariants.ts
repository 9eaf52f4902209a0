import { verifyChain, type RecordedEvent } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import type { TrialFleet } from './fleet.js';

/** Stable error codes: upper snake case, as every Patchbay code is. */
export const STABLE_CODE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;

export const CYCLE_FINAL = ['CycleCompleted', 'CycleHalted', 'CycleAborted'] as const;
const RUN_FINAL = new Set(['RunSucceeded', 'RunFailed', 'RunCancelled']);

export interface RunOutcome {
  endpointId: string;
  final: string;
  code?: string;
}

export interface CycleVerdict {
  violations: string[];
  cycleFinal?: string;
  runs: RunOutcome[];
  events: number;
}

type Data = Record<string, unknown>;
const d = (e: RecordedEvent): Data => (e.data ?? {}) as Data;

/** Reads the store read-only (the stack may still be writing). */
export async function readStore(storePath: string): Promise<RecordedEvent[]> {
  const store = SqliteEventStore.open(storePath, { readOnly: true });
  try {
    return await store.readAll();
  } finally {
    await store.close();
  }
}

export function byStream(events: readonly RecordedEvent[]): Map<string, RecordedEvent[]> {
  const streams = new Map<string, RecordedEvent[]>();
  for (const e of events) {
    const s = streams.get(e.metadata.stream);
    if (s) s.push(e);
    else streams.set(e.metadata.stream, [e]);
  }
  return streams;
}

/** Every stream's hash chain, from genesis, revisions without gaps. */
export function chainViolations(events: readonly RecordedEvent[]): string[] {
  const out: string[] = [];
  for (const [stream, evs] of byStream(events)) {
    const v = verifyChain(stream, evs);
    if (!v.ok) out.push(`hash chain of ${stream} broken at ${v.brokenAt}: ${v.reason}`);
  }
  return out;
}

/**
 * The invariants of one cycle on one trial fleet, from the store and from what the endpoints
 * received:
 * - the cycle reached a final event, every planned endpoint was released once, its run ended
 *   exactly once and the planner recorded that end once;
 * - per run, each (step, attempt) started at most once and ended at most once, never ended without
 *   a start, and a step that succeeded was never started again;
 * - no two `RebootIssued` for one boot id, and no endpoint received two reboot commands in one boot;
 * - on the hosts, the marker commands and package installs ran no more often than their steps were
 *   started (nothing ran unrecorded) and at least once where the step succeeded;
 * - every hash chain of the store verifies.
 */
export function checkCycle(
  all: readonly RecordedEvent[],
  cycleId: string,
  fleet: TrialFleet | undefined,
  opts: { expectEndpoints?: number } = {},
): CycleVerdict {
  const violations: string[] = [];
  const streams = byStream(all);
  const cycle = streams.get(`cycle-${cycleId}`) ?? [];
  const finals = cycle.filter((e) => (CYCLE_FINAL as readonly string[]).includes(e.type));
  if (finals.length !== 1) violations.push(`cycle ${cycleId}: ${finals.length} final events (${finals.map((e) => e.type).join(',')})`);
  const released = cycle.filter((e) => e.type === 'EndpointReleased').map((e) => String(d(e)['endpointId']));
  const relCount = new Map<string, number>();
  for (const id of released) relCount.set(id, (relCount.get(id) ?? 0) + 1);
  for (const [id, n] of relCount) if (n > 1) violations.push(`${id}: released ${n} times`);
  if (opts.expectEndpoints !== undefined && relCount.size !== opts.expectEndpoints && finals[0]?.type === 'CycleCompleted')
    violations.push(`cycle completed with ${relCount.size} of ${opts.expectEndpoints} endpoints released`);
  const finished = cycle.filter((e) => e.type === 'EndpointRunFinished').map((e) => String(d(e)['endpointId']));
  for (const id of relCount.keys()) {
    const n = finished.filter((f) => f === id).length;
    if (n !== 1) violations.push(`${id}: the planner recorded its run's end ${n} times`);
  }

  const runs: RunOutcome[] = [];
  for (const [stream, evs] of streams) {
    if (!stream.startsWith(`run-${cycleId}.`)) continue;
    const endpointId = stream.slice(`run-${cycleId}.`.length);
    if (!relCount.has(endpointId)) violations.push(`${stream}: a run for an endpoint that was never released`);
    const ends = evs.filter((e) => RUN_FINAL.has(e.type));
    if (ends.length !== 1) violations.push(`${stream}: ${ends.length} final events`);
    if (ends[0]) runs.push({ endpointId, final: ends[0].type, code: d(ends[0])['code'] as string | undefined });
    const started = new Map<string, number>();
    const ended = new Map<string, number>();
    const succeededSteps = new Set<string>();
    const startedPerStep = new Map<string, number>();
    for (const e of evs) {
      const stepKey = String(d(e)['stepKey']);
      const key = `${stepKey}#${String(d(e)['attempt'])}`;
      if (e.type === 'StepStarted') {
        started.set(key, (started.get(key) ?? 0) + 1);
        startedPerStep.set(stepKey, (startedPerStep.get(stepKey) ?? 0) + 1);
        if (succeededSteps.has(stepKey)) violations.push(`${stream}: step ${stepKey} started again after it succeeded`);
      }
      if (e.type === 'StepSucceeded' || e.type === 'StepFailed' || e.type === 'StepSkipped') {
        if (!started.has(key) && e.type !== 'StepSkipped') violations.push(`${stream}: ${e.type} ${key} without StepStarted`);
        ended.set(key, (ended.get(key) ?? 0) + 1);
        if (e.type === 'StepSucceeded') succeededSteps.add(stepKey);
      }
    }
    for (const [k, n] of started) if (n > 1) violations.push(`${stream}: StepStarted ${k} ×${n}`);
    for (const [k, n] of ended) if (n > 1) violations.push(`${stream}: step outcome ${k} ×${n}`);
    const boots = evs.filter((e) => e.type === 'RebootIssued').map((e) => String(d(e)['bootIdBefore']));
    if (new Set(boots).size !== boots.length) violations.push(`${stream}: two RebootIssued for one boot id (${boots.join(',')})`);

    // Effects on the host, counted by the endpoint itself.
    const ep = fleet?.endpoint(endpointId);
    if (!fleet || !ep) continue;
    for (const [bootId, n] of ep.machine.rebootRequestsByBootId) if (n > 1) violations.push(`${endpointId}: ${n} reboot commands during boot ${bootId}`);
    for (const [marker, step] of [
      ['pb-marker-pre', 'marker-pre'],
      ['pb-marker-post', 'marker-post'],
    ] as const) {
      const ran = fleet.count(endpointId, 'echo', marker);
      const starts = startedPerStep.get(step) ?? 0;
      if (ran > starts) violations.push(`${endpointId}: ${marker} ran ${ran} times for ${starts} recorded starts`);
      if (succeededSteps.has(step) && ran < 1) violations.push(`${endpointId}: ${step} succeeded but never ran on the host`);
    }
    const installs = (fleet.commands.get(endpointId) ?? []).filter(
      (l) => /apt-get\b.*\s(install|upgrade|dist-upgrade)\b/.test(l) && !l.includes(' -s '),
    ).length;
    const patchStarts = startedPerStep.get('patch') ?? 0;
    if (installs > patchStarts) violations.push(`${endpointId}: ${installs} package installs for ${patchStarts} recorded patch starts`);
    const rebootsSent = (fleet.commands.get(endpointId) ?? []).filter((l) => /(^|\s)(reboot|systemctl reboot|shutdown -r)(\s|$)/.test(l)).length;
    if (rebootsSent > boots.length) violations.push(`${endpointId}: ${rebootsSent} reboot commands for ${boots.length} RebootIssued`);
  }
  for (const id of relCount.keys()) if (!runs.some((r) => r.endpointId === id)) violations.push(`${id}: released but its run never ended`);
  violations.push(...chainViolations(all));
  return { violations, cycleFinal: finals[0]?.type, runs, events: all.length };
}

/** Waits until the cycle stream holds a final event; undefined after the timeout (a hang). */
export async function waitCycleFinal(storePath: string, cycleId: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const store = SqliteEventStore.open(storePath, { readOnly: true });
    try {
      const evs = await store.readStream(`cycle-${cycleId}`).catch(() => [] as RecordedEvent[]);
      const f = evs.find((e) => (CYCLE_FINAL as readonly string[]).includes(e.type));
      if (f) return f.type;
    } finally {
      await store.close();
    }
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 150));
  }
}

interface ReadCycle {
  cycle: { status: string; counts: { planned: number; released: number; succeeded: number; failed: number; cancelled: number } } | null;
  endpointRuns: {
    edges: Array<{
      node: {
        endpointId: string;
        status: string;
        steps: Array<{ stepKey: string; attempt: number; status: string }>;
        reboots: Array<{ bootIdBefore: string | null }>;
      };
    }>;
  };
}

/**
 * The gateway's read model of a cycle agrees with the store: the final status, each endpoint
 * counted once, one run per endpoint with its final status, each (step, attempt) once, and as many
 * reboots as `RebootIssued` events. Waits (up to `timeoutMs`) for the projection to catch up.
 */
export async function readModelViolations(
  graphql: (q: string, v?: Record<string, unknown>) => Promise<{ data?: unknown; errors?: unknown[] }>,
  all: readonly RecordedEvent[],
  cycleId: string,
  timeoutMs = 20_000,
): Promise<string[]> {
  const streams = byStream(all);
  const cycle = streams.get(`cycle-${cycleId}`) ?? [];
  const final = cycle.find((e) => (CYCLE_FINAL as readonly string[]).includes(e.type))?.type;
  const expectedStatus = final === 'CycleCompleted' ? 'completed' : final === 'CycleHalted' ? 'halted' : 'aborted';
  const runs = [...streams].filter(([s]) => s.startsWith(`run-${cycleId}.`));
  const succeeded = runs.filter(([, evs]) => evs.some((e) => e.type === 'RunSucceeded')).length;
  const query = `query($id: ID!) { cycle(id: $id) { status counts { planned released succeeded failed cancelled } }
    endpointRuns(cycleId: $id, first: 20) { edges { node { endpointId status steps { stepKey attempt status } reboots { bootIdBefore } } } } }`;
  const deadline = Date.now() + timeoutMs;
  let out: string[] = [];
  for (;;) {
    out = [];
    const r = (await graphql(query, { id: cycleId }).catch((e: Error) => ({ errors: [e.message] }))) as { data?: ReadCycle; errors?: unknown[] };
    if (r.errors) out.push(`gateway query failed: ${JSON.stringify(r.errors).slice(0, 300)}`);
    const c = r.data?.cycle;
    if (!c) out.push('gateway does not know the cycle');
    else {
      if (c.status !== expectedStatus) out.push(`gateway shows the cycle ${c.status}, the store ${final}`);
      if (c.counts.released !== runs.length || c.counts.succeeded !== succeeded)
        out.push(`gateway counts ${JSON.stringify(c.counts)} for ${runs.length} runs, ${succeeded} succeeded`);
    }
    const nodes = r.data?.endpointRuns.edges.map((e) => e.node) ?? [];
    if (r.data && nodes.length !== runs.length) out.push(`gateway lists ${nodes.length} runs, the store has ${runs.length}`);
    for (const n of nodes) {
      const evs = streams.get(`run-${cycleId}.${n.endpointId}`) ?? [];
      const seen = new Set<string>();
      for (const s of n.steps) {
        const k = `${s.stepKey}#${s.attempt}`;
        if (seen.has(k)) out.push(`gateway: ${n.endpointId} step ${k} listed twice`);
        seen.add(k);
      }
      const issued = evs.filter((e) => e.type === 'RebootIssued').length;
      if (n.reboots.length !== issued) out.push(`gateway: ${n.endpointId} shows ${n.reboots.length} reboots, the store ${issued}`);
    }
    if (out.length === 0 || Date.now() > deadline) return out;
    await new Promise((res) => setTimeout(res, 250));
  }
}
