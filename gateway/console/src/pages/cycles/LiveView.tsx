import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { graphql } from '../../gql';
import type { FailedRunsQuery as FailedRunsResult, LiveRunsQuery as LiveRunsResult } from '../../gql/graphql';
import { onReconnect, request, subscribe, type ApiError } from '../../api/client';
import { cycleStatus } from './wait';
import { Link } from '../../app/router';
import { Button, ErrorMessage, StatusBadge, Time } from '../../ui/components';
import { ENDPOINT_STATES, LiveStore, lastLines, type EndpointState, type LiveEndpoint, type LiveFailure, type TimelineEntry } from './live';

const CycleProgressSubscription = graphql(`
  subscription CycleProgress($cycleId: ID!) {
    cycleProgress(cycleId: $cycleId) {
      eventId
      type
      stream
      recordedAt
      actor
      data
    }
  }
`);

const LiveRunsQuery = graphql(`
  query LiveRuns($cycleId: ID!, $first: Int, $after: String) {
    endpointRuns(cycleId: $cycleId, first: $first, after: $after) {
      edges {
        node {
          endpointId
          wave
          groupId
          tier
          status
          currentStep
          code
          message
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const FailedRunsQuery = graphql(`
  query FailedRuns($cycleId: ID!, $after: String) {
    endpointRuns(cycleId: $cycleId, filter: { status: ["failed"] }, first: 60, after: $after) {
      edges {
        node {
          endpointId
          steps {
            stepKey
            stepId
            attempt
            status
            code
            message
            finishedAt
            stdoutTail
            stderrTail
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export interface LiveCycle {
  id: string;
  status: string;
  requestedBy: string;
  requestedAt: string;
  kind: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  approvals: Array<{ by: string; auto: boolean; comment?: string | null; at: string }>;
  approvalsRequired?: number | null;
  waves: Array<{ index: number; name: string; size: number; state: string }>;
  haltReason?: { code: string; reason: string; at: string } | null;
  pauseReason?: string | null;
  abortReason?: string | null;
}

/** What the benchmark reads: per applied event, the time from its arrival to the render committed. */
interface LiveStats {
  samples: number[];
  events: number;
  batches: number;
  longTasks: number;
  longTaskMs: number;
  /** Long animation frames (> 50 ms): where their time went, ms. */
  frames: Array<{ duration: number; script: number; styleLayout: number; render: number; invokers: string[] }>;
  reset(): void;
}
interface AnimationFrameTiming extends PerformanceEntry {
  renderStart: number;
  styleAndLayoutStart: number;
  scripts: Array<{ duration: number; invoker: string; invokerType: string }>;
}
declare global {
  interface Window {
    __patchbayLiveStats?: LiveStats;
  }
}
function stats(): LiveStats {
  if (!window.__patchbayLiveStats) {
    const s: LiveStats = {
      samples: [],
      events: 0,
      batches: 0,
      longTasks: 0,
      longTaskMs: 0,
      frames: [],
      reset() {
        s.samples = [];
        s.events = 0;
        s.batches = 0;
        s.longTasks = 0;
        s.longTaskMs = 0;
        s.frames = [];
      },
    };
    window.__patchbayLiveStats = s;
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          s.longTasks += 1;
          s.longTaskMs += e.duration;
        }
      }).observe({ type: 'longtask', buffered: false });
    } catch {
      // no long-task timing in this browser
    }
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as AnimationFrameTiming[]) {
          if (s.frames.length >= 5000) break;
          const end = e.startTime + e.duration;
          s.frames.push({
            duration: e.duration,
            script: e.scripts.reduce((n, x) => n + x.duration, 0),
            styleLayout: e.styleAndLayoutStart ? end - e.styleAndLayoutStart : 0,
            render: e.renderStart ? end - e.renderStart : 0,
            invokers: e.scripts.filter((x) => x.duration > 5).map((x) => `${x.invokerType}:${x.invoker}:${Math.round(x.duration)}`),
          });
        }
      }).observe({ type: 'long-animation-frame', buffered: false });
    } catch {
      // no long-animation-frame timing in this browser
    }
  }
  return window.__patchbayLiveStats;
}

type RunRow = LiveRunsResult['endpointRuns']['edges'][number]['node'];

/** Every endpoint run of the cycle, in pages as large as the gateway's query cost limit allows. */
async function loadRuns(cycleId: string): Promise<RunRow[]> {
  const runs: RunRow[] = [];
  let after: string | null = null;
  for (;;) {
    const r: LiveRunsResult = await request(LiveRunsQuery, { cycleId, first: 100, after });
    runs.push(...r.endpointRuns.edges.map((e) => e.node));
    if (!r.endpointRuns.pageInfo.hasNextPage || !r.endpointRuns.pageInfo.endCursor) return runs;
    after = r.endpointRuns.pageInfo.endCursor;
  }
}

/** The failed steps of the cycle's failed runs, with their output tails. */
async function loadFailures(cycleId: string): Promise<LiveFailure[]> {
  const failures: LiveFailure[] = [];
  let after: string | null = null;
  for (;;) {
    const r: FailedRunsResult = await request(FailedRunsQuery, { cycleId, after });
    for (const { node } of r.endpointRuns.edges)
      for (const s of node.steps)
        if (s.status === 'failed' || s.status === 'retrying')
          failures.push({ key: `${node.endpointId}:${s.stepKey}:${s.attempt}`, endpointId: node.endpointId, step: s.stepId, attempt: s.attempt, code: s.code ?? 'STEP_FAILED', message: s.message ?? '', willRetry: s.status === 'retrying', at: s.finishedAt ?? '', stdoutTail: lastLines(s.stdoutTail), stderrTail: lastLines(s.stderrTail) });
    if (!r.endpointRuns.pageInfo.hasNextPage || !r.endpointRuns.pageInfo.endCursor) return failures;
    after = r.endpointRuns.pageInfo.endCursor;
  }
}

/** Reads the runs, their failures and the cycle's status again and takes what the page missed. */
async function catchUp(store: LiveStore): Promise<void> {
  const [runs, failures, status] = await Promise.all([loadRuns(store.cycleId), loadFailures(store.cycleId), cycleStatus(store.cycleId)]);
  store.seedFailures(failures);
  store.reconcile(status, runs);
}

const PAGE = 50;
const STATE_LABEL: Record<EndpointState | 'all', string> = { all: 'All', running: 'Running', released: 'Released', planned: 'Planned', failed: 'Failed', succeeded: 'Succeeded', cancelled: 'Cancelled' };

/**
 * The live view of one cycle: the read models give the starting state, the `cycleProgress`
 * subscription (opened first, so nothing is missed) everything after; events are applied per
 * animation frame and only changed rows re-render.
 */
export function LiveView({ cycle, onStatus }: { cycle: LiveCycle; onStatus(status: string): void }) {
  const store = useMemo(() => new LiveStore(cycle.id), [cycle.id]);
  const [error, setError] = useState<ApiError>();
  const [seeded, setSeeded] = useState(false);
  const version = useSyncExternalStore(store.subscribe, store.getVersion);
  const initial = useRef(cycle);

  useEffect(() => {
    let stopped = false;
    const stop = subscribe(
      CycleProgressSubscription,
      { cycleId: store.cycleId },
      {
        next: (d) => store.push(d.cycleProgress),
        error: (e) => setError(e),
      },
    );
    const seed = async () => {
      const runs = await loadRuns(store.cycleId);
      const failures = await loadFailures(store.cycleId);
      if (stopped) return;
      const c = initial.current;
      store.seed(
        { status: c.status, approvals: c.approvals.length, approvalsRequired: c.approvalsRequired ?? null, haltCode: c.haltReason?.code ?? null, haltReason: c.haltReason?.reason ?? null, pauseReason: c.pauseReason ?? null, abortReason: c.abortReason ?? null },
        c.waves,
        runs,
      );
      store.seedFailures(failures);
      const t: TimelineEntry[] = [{ key: 'requested', at: c.requestedAt, type: 'CycleRequested', text: `Requested by ${c.requestedBy} (${c.kind})`, tone: 'idle' }];
      for (const a of c.approvals) t.push({ key: `approved-${a.by}-${a.at}`, at: a.at, type: 'CycleApproved', text: `Approved by ${a.by}${a.auto ? ' (automatic)' : ''}${a.comment ? `: ${a.comment}` : ''}`, tone: 'good' });
      if (c.startedAt) t.push({ key: 'started', at: c.startedAt, type: 'CycleStarted', text: 'Started', tone: 'busy' });
      if (c.haltReason) t.push({ key: 'halted', at: c.haltReason.at, type: 'CycleHalted', text: `Halted: ${c.haltReason.code} ${c.haltReason.reason}`, tone: 'bad' });
      if (c.finishedAt) t.push({ key: 'finished', at: c.finishedAt, type: 'CycleFinished', text: c.status === 'aborted' ? `Aborted: ${c.abortReason ?? ''}` : `Finished (${c.status})`, tone: c.status === 'completed' ? 'good' : 'bad' });
      store.seedTimeline(t.sort((a, b) => a.at.localeCompare(b.at)));
      store.start();
      setSeeded(true);
    };
    seed().catch((e: ApiError) => setError(e));
    // After a dropped connection the subscription resumes, but what happened meanwhile is read again.
    const offReconnect = onReconnect(() => void catchUp(store).catch((e: ApiError) => setError(e)));
    return () => {
      stopped = true;
      stop();
      offReconnect();
      store.dispose();
    };
  }, [store]);

  // Once the cycle has ended, one last read makes sure nothing the connection may have dropped is missing.
  const ended = ['completed', 'aborted', 'halted'].includes(store.header.status);
  useEffect(() => {
    if (!seeded || !ended) return;
    const timer = setTimeout(() => void catchUp(store).catch(() => undefined), 1500);
    return () => clearTimeout(timer);
  }, [seeded, ended, store]);

  // The measure: from each event's arrival to this commit.
  useLayoutEffect(() => {
    if (version === 0) return;
    const now = performance.now();
    const s = stats();
    for (const t of store.lastBatch) s.samples.push(now - t);
    s.events += store.lastBatch.length;
    s.batches += 1;
    if (s.samples.length > 200_000) s.samples.splice(0, s.samples.length - 100_000);
    performance.mark('patchbay-live-commit', { detail: { events: store.lastBatch.length } });
  }, [version, store]);

  const status = store.header.status;
  useEffect(() => {
    if (seeded) onStatus(status);
  }, [status, seeded, onStatus]);

  return (
    <section className="live" aria-labelledby="live-title">
      <h2 id="live-title">
        Live view <span className={`live-dot ${error ? 'live-off' : 'live-on'}`}>{error ? 'disconnected' : seeded ? 'live' : 'connecting'}</span>
      </h2>
      <ErrorMessage error={error} title="Live updates" />
      {!seeded ? <p className="muted">Loading the cycle's endpoints…</p> : null}
      <Announcer store={store} version={version} />
      <Summary store={store} version={version} />
      <Waves store={store} version={version} />
      <Endpoints store={store} version={version} />
      <Failures failures={store.failures} count={store.failureCount} />
      <Timeline entries={store.timeline} count={store.noted} />
    </section>
  );
}

/** A polite live region: the cycle's status at once, progress at most every 5 s. */
function Announcer({ store, version }: { store: LiveStore; version: number }) {
  const [text, setText] = useState('');
  const last = useRef({ at: 0, status: '' });
  useEffect(() => {
    const c = store.counts();
    const now = Date.now();
    const status = store.header.status;
    if (status === last.current.status && now - last.current.at < 5000) return;
    last.current = { at: now, status };
    setText(`Cycle ${status}: ${c.succeeded} succeeded, ${c.running} running, ${c.failed} failed of ${store.order.length}.`);
  }, [version, store]);
  return (
    <p className="visually-hidden" role="status" aria-live="polite">
      {text}
    </p>
  );
}

function Summary({ store }: { store: LiveStore; version: number }) {
  const c = store.counts();
  const total = store.order.length;
  const done = c.succeeded + c.failed + c.cancelled;
  const h = store.header;
  return (
    <div className="live-summary">
      <p>
        Status <StatusBadge status={h.status} />
        {h.approvalsRequired ? (
          <span className="muted">
            {' '}
            approvals {h.approvals}/{h.approvalsRequired}
          </span>
        ) : null}
        {h.haltCode ? <span className="field-error"> halted: {h.haltCode} {h.haltReason}</span> : null}
        {h.pauseReason && h.status === 'paused' ? <span className="muted"> paused: {h.pauseReason}</span> : null}
      </p>
      <div className="live-progress" role="progressbar" aria-label="Endpoints finished" aria-valuemin={0} aria-valuemax={total || 1} aria-valuenow={done} aria-valuetext={`${done} of ${total} finished`}>
        <span className="seg seg-succeeded" style={{ width: `${total ? (100 * c.succeeded) / total : 0}%` }} />
        <span className="seg seg-failed" style={{ width: `${total ? (100 * c.failed) / total : 0}%` }} />
        <span className="seg seg-cancelled" style={{ width: `${total ? (100 * c.cancelled) / total : 0}%` }} />
        <span className="seg seg-running" style={{ width: `${total ? (100 * c.running) / total : 0}%` }} />
      </div>
      <ul className="live-counts" aria-label="Endpoints by state">
        {ENDPOINT_STATES.map((s) => (
          <li key={s}>
            <StatusBadge status={s} /> <strong>{c[s]}</strong>
          </li>
        ))}
        <li>
          total <strong>{total}</strong>
        </li>
      </ul>
    </div>
  );
}

function Waves({ store }: { store: LiveStore; version: number }) {
  if (store.waves.length === 0) return null;
  return (
    <table className="live-waves">
      <caption>Waves</caption>
      <thead>
        <tr>
          <th scope="col">Wave</th>
          <th scope="col">State</th>
          <th scope="col">Size</th>
          <th scope="col">Succeeded</th>
          <th scope="col">Running</th>
          <th scope="col">Failed</th>
          <th scope="col">Waiting</th>
        </tr>
      </thead>
      <tbody>
        {store.waves.map((w) => (
          <tr key={w.index}>
            <th scope="row">
              {w.index}. {w.name}
            </th>
            <td>
              <StatusBadge status={w.state} />
            </td>
            <td>{w.size}</td>
            <td>{w.counts.succeeded}</td>
            <td>{w.counts.running}</td>
            <td>{w.counts.failed}</td>
            <td>{w.counts.planned + w.counts.released}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const EndpointRow = memo(function EndpointRow({ e }: { e: LiveEndpoint }) {
  return (
    <tr>
      <th scope="row">
        <Link to={`/fleet/${encodeURIComponent(e.endpointId)}`}>{e.endpointId}</Link>
      </th>
      <td>{e.wave ?? '—'}</td>
      <td>{e.tier ?? '—'}</td>
      <td>
        <StatusBadge status={e.state} />
      </td>
      <td>
        {e.step ? <code>{e.step}</code> : <span className="muted">—</span>}
        {e.stepStatus && e.state === 'running' ? <span className="muted"> {e.stepStatus}{e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}</span> : null}
      </td>
      <td>{e.code ? <code>{e.code}</code> : null}</td>
    </tr>
  );
});

/** One page of endpoints in one state: rows are the store's own objects, so unchanged rows skip rendering. */
function Endpoints({ store }: { store: LiveStore; version: number }) {
  const [state, setState] = useState<EndpointState | 'all'>('all');
  const [page, setPage] = useState(0);
  const { ids, total } = store.page(state, page * PAGE, PAGE);
  const pages = Math.max(1, Math.ceil(total / PAGE));
  useEffect(() => {
    if (page >= pages) setPage(pages - 1);
  }, [page, pages]);
  const counts = store.counts();
  return (
    <section aria-labelledby="live-endpoints-title">
      <h3 id="live-endpoints-title">Endpoints</h3>
      <div className="filters" role="group" aria-label="Show endpoints by state">
        {(['all', ...ENDPOINT_STATES] as const).map((s) => (
          <Button
            key={s}
            aria-pressed={state === s}
            className={state === s ? 'btn-selected' : ''}
            onClick={() => {
              setState(s);
              setPage(0);
            }}
          >
            {STATE_LABEL[s]} ({s === 'all' ? store.order.length : counts[s]})
          </Button>
        ))}
      </div>
      <table className="live-endpoints">
        <caption className="visually-hidden">
          {STATE_LABEL[state]} endpoints, page {page + 1} of {pages}
        </caption>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col">Wave</th>
            <th scope="col">Tier</th>
            <th scope="col">State</th>
            <th scope="col">Current step</th>
            <th scope="col">Code</th>
          </tr>
        </thead>
        <tbody>
          {ids.map((id) => {
            const e = store.get(id);
            return e ? <EndpointRow key={id} e={e} /> : null;
          })}
        </tbody>
      </table>
      {total === 0 ? <p className="muted">No endpoints in this state.</p> : null}
      <nav className="pager" aria-label="Endpoint pages">
        <Button onClick={() => setPage((p) => Math.max(0, p - 1))} disabled={page === 0}>
          Previous page
        </Button>
        <span>
          Page {Math.min(page + 1, pages)} of {pages} ({total} endpoints)
        </span>
        <Button onClick={() => setPage((p) => Math.min(pages - 1, p + 1))} disabled={page >= pages - 1}>
          Next page
        </Button>
      </nav>
    </section>
  );
}

const Failures = memo(function Failures({ failures, count }: { failures: LiveFailure[]; count: number }) {
  const [shown, setShown] = useState(10);
  const list = failures.slice(-shown).reverse();
  return (
    <section aria-labelledby="live-failures-title">
      <h3 id="live-failures-title">Failures ({count})</h3>
      {count === 0 ? <p className="muted">No step has failed.</p> : null}
      <ul className="live-failures">
        {list.map((f) => (
          <li key={f.key} className="card">
            <p>
              <strong>{f.endpointId}</strong> step <code>{f.step}</code> attempt {f.attempt}: <code className="field-error">{f.code}</code> {f.message} {f.willRetry ? <StatusBadge status="retrying" /> : <StatusBadge status="failed" />} <Time at={f.at} />
            </p>
            {f.stderrTail ? (
              <>
                <h4>stderr (tail)</h4>
                <pre className="output" tabIndex={0} aria-label={`stderr of ${f.endpointId} ${f.step}`}>
                  {f.stderrTail}
                </pre>
              </>
            ) : null}
            {f.stdoutTail ? (
              <>
                <h4>stdout (tail)</h4>
                <pre className="output" tabIndex={0} aria-label={`stdout of ${f.endpointId} ${f.step}`}>
                  {f.stdoutTail}
                </pre>
              </>
            ) : null}
          </li>
        ))}
      </ul>
      {count > shown ? <Button onClick={() => setShown((n) => n + 20)}>Show more failures</Button> : null}
    </section>
  );
});

const Timeline = memo(function Timeline({ entries }: { entries: TimelineEntry[]; count: number }) {
  const [shown, setShown] = useState(50);
  const list = entries.slice(-shown).reverse();
  return (
    <section aria-labelledby="live-timeline-title">
      <h3 id="live-timeline-title">Timeline</h3>
      <ol className="live-timeline" aria-label="Cycle events, newest first">
        {list.map((t) => (
          <li key={t.key}>
            <Time at={t.at} /> <span className={`badge tone-${t.tone}`}>{t.type}</span> {t.text}
          </li>
        ))}
      </ol>
      {entries.length > shown ? <Button onClick={() => setShown((n) => n + 100)}>Show older events</Button> : null}
    </section>
  );
});
