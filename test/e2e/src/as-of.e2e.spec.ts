import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { up } from '@patchbay/cli';
import { DEFAULT_SCENARIO, labInventoryIni, scenarioSchema, SimulatedFleet, writeClientKey } from '@patchbay/fleet-lab';
import { sseData } from '@patchbay/testing';

/**
 * As-of fidelity: while a real cycle runs (embedded stack as separate processes, simulated fleet),
 * the test records what the API answered — `cycle(id)` and `endpointRuns` — at quiet moments,
 * together with the last event id its `cycleProgress` subscription had received. Afterwards
 * `cycleAsOf(eventId: that id)` must give the same status, waves (state and counts) and endpoint
 * states (and the step of each running endpoint) as the API showed then.
 *
 * A moment is recorded only when no event arrived for QUIET_MS before the first query and none
 * until a second identical answer: then the read model and the subscription stand at the same event.
 * The simulated apt takes APT_MS per call and a reboot 2.5 s, so every wave has such moments with
 * endpoints running.
 */

const ENDPOINTS = 6;
const APT_MS = 2000;
/** Margins for a loaded machine: the relay and the projections each lag the store by tens of ms when idle. */
const QUIET_MS = 1000;
const RECHECK_MS = 500;

interface Run {
  endpointId: string;
  wave: number;
  status: string;
  currentStep: string | null;
}
interface Shown {
  lastEventId: string;
  events: number;
  cycle: { status: string; waves: Array<{ index: number; name: string; size: number; state: string; succeeded: number; failed: number }>; counts: { released: number; succeeded: number; failed: number; cancelled: number } };
  runs: Run[];
}
interface AsOf {
  status: string;
  lastEventId: string;
  eventCount: number;
  waves: Array<{ index: number; name: string; size: number; status: string; succeeded: number; failed: number }>;
  endpoints: Array<{ endpointId: string; wave: number | null; state: string; step: string | null }>;
  endpointsByState: Array<{ state: string; count: number }>;
}

const bundle = `
kind: WorkflowTemplate
id: asof
name: Stop the app, upgrade, reboot if required, start the app
phases:
  pre:
    - id: stop-app
      type: stop-service
      params: { service: ${DEFAULT_SCENARIO.app.service} }
  patch:
    - id: patch
      type: patch
      params: { scope: all, manager: apt }
    - id: reboot
      type: reboot
      params: { mode: if-required, returnTimeoutSeconds: 60 }
  post:
    - id: start-app
      type: start-service
      params: { service: ${DEFAULT_SCENARIO.app.service} }
---
kind: ReferenceGroup
id: asof
name: As-of fleet
tier: low
selector: fleet=asof
---
kind: PatchPolicy
id: asof
groups: [asof]
updates: { include: all }
approval: { mode: auto, afterDays: 0 }
rollout: { canary: 1, waves: ["50%"] }
maxConcurrency: 3
errorThreshold: ${ENDPOINTS}
reboot: if-required
workflow: { id: asof, version: 1 }
`;

describe('cycleAsOf matches what the API showed during a real cycle (simulated fleet)', () => {
  const work = mkdtempSync(join(tmpdir(), 'patchbay-asof-'));
  const token = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  const saved: Record<string, string | undefined> = {};
  let fleet: SimulatedFleet | undefined;
  let stop: (() => void) | undefined;
  let stack: Promise<void> | undefined;
  let url = '';
  let stackPids: Record<string, number | undefined> = {};

  const gql = async <T>(query: string, variables?: Record<string, unknown>): Promise<T> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (body.errors) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(body.errors)}`);
    return body.data!;
  };

  before(async () => {
    // The simulated shell has no `timeout -k` and refuses the reboot marker script (bench/RESULTS.md).
    const env: Record<string, string> = {
      PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REBOOT_MARKER: 'false',
      PATCHBAY_ADMIN_TOKEN: token,
      LOG_LEVEL: 'warn',
    };
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    for (const k of ['NATS_URL', 'EVENTSTORE_URL']) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    const { public: clientPublicKey, path: keyPath } = writeClientKey(work);
    const scenario = scenarioSchema.parse({ ...DEFAULT_SCENARIO, defaults: { ...DEFAULT_SCENARIO.defaults, aptLatencyMs: APT_MS, rebootDelayMs: 2500 } });
    fleet = await SimulatedFleet.start({ endpoints: ENDPOINTS, scenario, clientPublicKey, basePort: 22_000 + Math.floor(Math.random() * 8_000) });
    const until = new Promise<void>((r) => (stop = r));
    let ready!: (info: { url: string; pids: Record<string, number | undefined> }) => void;
    const readyP = new Promise<{ url: string; pids: Record<string, number | undefined> }>((r) => (ready = r));
    stack = up({ dataDir: join(work, 'patchbay'), port: 0, until, onReady: ready, log: () => undefined });
    const failed = stack.then(() => Promise.reject(new Error('the stack stopped before it was ready')));
    failed.catch(() => undefined);
    const info = await Promise.race([readyP, failed]);
    url = info.url;
    stackPids = info.pids;

    const ini = labInventoryIni(
      'asof',
      fleet.targets().map((t) => ({ name: t.id, host: t.host, port: t.port })),
      { vars: { fleet: 'asof' }, keyPath },
    );
    await gql('mutation($c: String!) { importInventory(format: ansible_ini, fileName: "asof.ini", content: $c, hostKeyPolicy: tofu) { commandId } }', { c: ini });
    await gql('mutation { gatherFacts(wait: true, refresh: true) { commandId } }');
    await gql('mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f) { commandId } }', { f: [{ name: 'asof.yaml', content: bundle }] });
    for (let i = 0; ; i++) {
      const g = await gql<{ referenceGroup: { memberCount: number } | null }>('{ referenceGroup(id: "asof") { memberCount } }');
      if (g.referenceGroup?.memberCount === ENDPOINTS) break;
      if (i > 300) throw new Error(`group asof has ${g.referenceGroup?.memberCount} members, expected ${ENDPOINTS}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    stop?.();
    await stack?.catch(() => undefined);
    await fleet?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('starts every stack process with the young-generation limit (PATCHBAY_NODE_SEMI_SPACE_MB, default 16)', () => {
    const names = Object.keys(stackPids).sort();
    assert.deepEqual(names, ['executor', 'gateway', 'inventory', 'planner', 'policy', 'relay']);
    for (const name of names) {
      const argv = readFileSync(`/proc/${stackPids[name]}/cmdline`, 'utf8').split('\0');
      assert.ok(argv.includes('--max-semi-space-size=16'), `${name}: ${argv.join(' ')}`);
      // The executor's own process runs at nice 10 (PATCHBAY_EXECUTOR_NICE), the others as started.
      const stat = readFileSync(`/proc/${stackPids[name]}/stat`, 'utf8');
      const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      assert.equal(nice, name === 'executor' ? 10 : 0, `${name}: nice ${nice}`);
    }
  });

  it('records the API at quiet moments of the cycle; cycleAsOf(eventId) of each moment shows the same', { timeout: 240_000 }, async (t) => {
    const cycleId = `c-${randomUUID()}`;
    const abort = new AbortController();
    let lastEventId: string | undefined;
    let lastAt = 0;
    let seen = 0;
    let ended: string | undefined;
    const res = await fetch(url, { method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: `subscription { cycleProgress(cycleId: "${cycleId}") { eventId type stream } }` }) });
    assert.equal(res.status, 200);
    const reading = (async () => {
      for await (const payload of sseData<{ data?: { cycleProgress: { eventId: string; type: string; stream: string } } }>(res.body)) {
        const e = payload.data?.cycleProgress;
        if (!e) continue;
        lastEventId = e.eventId;
        lastAt = Date.now();
        seen++;
        if (e.stream === `cycle-${cycleId}` && ['CycleCompleted', 'CycleHalted', 'CycleAborted'].includes(e.type)) ended = e.type;
      }
    })().catch((err: Error) => {
      if (!abort.signal.aborted) throw err;
    });
    await new Promise((r) => setTimeout(r, 300)); // the subscription is running before the request
    await gql('mutation($p: String!, $c: ID) { requestCycle(policyId: $p, cycleId: $c) { commandId } }', { p: 'asof', c: cycleId });

    const SHOW = `query($id: ID!) {
      cycle(id: $id) { status waves { index name size state succeeded failed } counts { released succeeded failed cancelled } }
      endpointRuns(cycleId: $id, first: 100) { edges { node { endpointId wave status currentStep } } }
    }`;
    const show = async (): Promise<Omit<Shown, 'lastEventId' | 'events'> | undefined> => {
      const d = await gql<{ cycle: Shown['cycle'] | null; endpointRuns: { edges: Array<{ node: Run }> } }>(SHOW, { id: cycleId });
      return d.cycle ? { cycle: d.cycle, runs: d.endpointRuns.edges.map((e) => e.node).sort((a, b) => a.endpointId.localeCompare(b.endpointId)) } : undefined;
    };
    const moments: Shown[] = [];
    const deadline = Date.now() + 180_000;
    while (!ended) {
      assert.ok(Date.now() < deadline, `cycle ${cycleId} did not end in time (${seen} events seen)`);
      await new Promise((r) => setTimeout(r, 50));
      const at = lastEventId;
      if (!at || Date.now() - lastAt < QUIET_MS || moments.some((m) => m.lastEventId === at)) continue;
      const first = await show();
      await new Promise((r) => setTimeout(r, RECHECK_MS));
      const second = await show();
      if (lastEventId !== at || !first || JSON.stringify(first) !== JSON.stringify(second)) continue; // not quiet after all
      moments.push({ lastEventId: at, events: seen, ...first });
    }
    // One last moment after the end: the final state.
    await new Promise((r) => setTimeout(r, QUIET_MS + 500));
    const final = await show();
    moments.push({ lastEventId: lastEventId!, events: seen, ...final! });
    abort.abort();
    await reading;

    assert.equal(ended, 'CycleCompleted');
    const running = moments.filter((m) => m.cycle.status === 'running' && m.runs.some((r) => r.status === 'running'));
    assert.ok(running.length >= 3, `at least three moments with endpoints running (got ${running.length} of ${moments.length})`);
    assert.ok(new Set(running.map((m) => m.cycle.waves.map((w) => w.state).join())).size >= 2, 'moments in different waves');

    const ASOF = `query($id: ID!, $e: ID!) { cycleAsOf(cycleId: $id, eventId: $e) {
      status lastEventId eventCount
      waves { index name size status succeeded failed }
      endpoints { endpointId wave state step }
      endpointsByState { state count }
    } }`;
    for (const m of moments) {
      const { cycleAsOf: a } = await gql<{ cycleAsOf: AsOf }>(ASOF, { id: cycleId, e: m.lastEventId });
      const where = `as of ${m.lastEventId} (event ${m.events} of the subscription)`;
      assert.equal(a.lastEventId, m.lastEventId, where);
      assert.equal(a.eventCount, m.events, `${where}: the fold saw as many events as the subscription`);
      assert.equal(a.status, m.cycle.status, `${where}: status`);
      assert.deepEqual(
        a.waves.map((w) => ({ index: w.index, name: w.name, size: w.size, state: w.status, succeeded: w.succeeded, failed: w.failed })),
        m.cycle.waves,
        `${where}: waves`,
      );
      // Both list every endpoint of the plan, released or not.
      const endpoints = [...a.endpoints].sort((x, y) => x.endpointId.localeCompare(y.endpointId));
      assert.equal(endpoints.length, ENDPOINTS, `${where}: endpoints of the plan`);
      assert.deepEqual(
        endpoints.map((e) => ({ endpointId: e.endpointId, wave: e.wave, status: e.state })),
        m.runs.map((r) => ({ endpointId: r.endpointId, wave: r.wave, status: r.status })),
        `${where}: endpoint states`,
      );
      for (const r of m.runs.filter((x) => x.status === 'running')) assert.equal(endpoints.find((e) => e.endpointId === r.endpointId)?.step, r.currentStep, `${where}: step of ${r.endpointId}`);
      const count = (state: string) => a.endpointsByState.find((s) => s.state === state)?.count ?? 0;
      assert.deepEqual(
        { succeeded: count('succeeded'), failed: count('failed'), cancelled: count('cancelled') },
        { succeeded: m.cycle.counts.succeeded, failed: m.cycle.counts.failed, cancelled: m.cycle.counts.cancelled },
        `${where}: counts`,
      );
    }
    assert.equal(moments.at(-1)!.cycle.status, 'completed');
    t.diagnostic(`${moments.length} moments compared (${running.length} with endpoints running), ${seen} events`);
  });
});
