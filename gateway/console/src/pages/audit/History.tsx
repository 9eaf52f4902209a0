import { useCallback, useEffect, useRef, useState } from 'react';
import { graphql } from '../../gql';
import type { AuditHistoryQuery } from '../../gql/graphql';
import { ApiError, request } from '../../api/client';
import { useQuery } from '../../api/hooks';
import { Link, useQueryParams } from '../../app/router';
import { Button, Empty, ErrorMessage, Loading, StatusBadge, Time } from '../../ui/components';

const AuditHistoryDoc = graphql(`
  query AuditHistory($cycleId: ID!, $after: String, $first: Int) {
    cycleHistory(cycleId: $cycleId, after: $after, first: $first) {
      eventId
      stream
      revision
      position
      type
      recordedAt
      actor
      hash
      prevHash
      data
    }
  }
`);

const AuditAsOfDoc = graphql(`
  query AuditAsOf($cycleId: ID!, $eventId: ID!) {
    cycleAsOf(cycleId: $cycleId, eventId: $eventId) {
      status
      kind
      policyId
      requestedBy
      planHash
      approvals
      approvalsRequired
      haltCode
      eventCount
      lastEventId
      lastRecordedAt
      unknownEventTypes
      waves {
        index
        name
        size
        status
        succeeded
        failed
      }
      endpointsByState {
        state
        count
      }
      endpoints {
        endpointId
        wave
        groupId
        tier
        state
        step
        code
      }
    }
  }
`);

type HistoryEvent = AuditHistoryQuery['cycleHistory'][number];

/** Events per request; "Load more" asks for the next ones after the last position. */
export const HISTORY_PAGE = 500;
const ENDPOINTS_SHOWN = 100;

/** A cycle's history, paged from the gateway and appended as the auditor asks for more. */
function useHistory(cycleId: string) {
  const [events, setEvents] = useState<HistoryEvent[]>([]);
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const [complete, setComplete] = useState(false);
  const generation = useRef(0);
  const load = useCallback(
    async (after: string | null, gen: number) => {
      setLoading(true);
      try {
        const r = await request(AuditHistoryDoc, { cycleId, after, first: HISTORY_PAGE });
        if (gen !== generation.current) return;
        setEvents((prev) => (after ? [...prev, ...r.cycleHistory] : r.cycleHistory));
        setComplete(r.cycleHistory.length < HISTORY_PAGE);
        setError(undefined);
      } catch (err) {
        if (gen === generation.current) setError(err instanceof ApiError ? err : new ApiError(String(err), 'INTERNAL'));
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [cycleId],
  );
  useEffect(() => {
    const gen = ++generation.current;
    setEvents([]);
    setComplete(false);
    void load(null, gen);
  }, [load]);
  const more = () => void load(events.at(-1)?.position ?? null, generation.current);
  return { events, error, loading, complete, more };
}

/** Waits a moment after the last change (a dragged slider asks once it rests, not at every step). */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/** The history as a timeline, a slider over it, and the cycle as of the chosen event. */
export function HistoryScrubber({ cycleId }: { cycleId: string }) {
  const h = useHistory(cycleId);
  const [params, setParams] = useQueryParams();
  const wanted = params.get('event');
  const found = wanted ? h.events.findIndex((e) => e.eventId === wanted) : -1;
  const index = found >= 0 ? found : Math.max(0, h.events.length - 1);
  const current = h.events[index];
  const choose = (i: number) => {
    const e = h.events[i];
    if (e) setParams({ event: e.eventId });
  };
  const settledId = useSettled(current?.eventId, 150);
  const asOf = useQuery(AuditAsOfDoc, { cycleId, eventId: settledId ?? '' }, { skip: !settledId });
  const timeline = useRef<HTMLOListElement>(null);
  useEffect(() => {
    timeline.current?.querySelector('[aria-current="step"]')?.scrollIntoView?.({ block: 'nearest' });
  }, [index]);

  if (h.loading && h.events.length === 0) return <Loading label="Loading the history" />;
  if (h.error && h.events.length === 0) return <ErrorMessage error={h.error} title="The history could not be loaded" />;
  if (h.events.length === 0) return <Empty>No events are recorded for cycle {cycleId}.</Empty>;
  const valueText = current ? `Event ${index + 1} of ${h.events.length}: ${current.type} at ${new Date(current.recordedAt).toLocaleString()}` : '';
  return (
    <div className="audit-history">
      <section aria-labelledby="scrub-title" className="card">
        <h2 id="scrub-title">The cycle as of an event</h2>
        <label htmlFor="audit-slider" className="slider-label">
          Event in the history
        </label>
        <input id="audit-slider" type="range" min={0} max={h.events.length - 1} step={1} value={index} aria-valuetext={valueText} onChange={(e) => choose(Number(e.target.value))} className="audit-slider" />
        <p className="muted">
          {valueText}. Use the arrow keys, Home and End to move through the events{h.complete ? '' : `; ${h.events.length} events loaded so far`}.
        </p>
        <div className="page-actions">
          <Button onClick={() => choose(index - 1)} disabled={index === 0}>
            Previous event
          </Button>
          <Button onClick={() => choose(index + 1)} disabled={index >= h.events.length - 1}>
            Next event
          </Button>
          {!h.complete ? (
            <Button onClick={h.more} disabled={h.loading}>
              {h.loading ? 'Loading events…' : 'Load more events'}
            </Button>
          ) : null}
        </div>
        <ErrorMessage error={h.error} title="More events could not be loaded" />
        <p className="visually-hidden" aria-live="polite" aria-atomic="true">
          {asOf.data && !asOf.loading ? `As of event ${asOf.data.cycleAsOf.eventCount}: cycle ${asOf.data.cycleAsOf.status}; ${asOf.data.cycleAsOf.endpointsByState.map((s) => `${s.count} ${s.state}`).join(', ') || 'no endpoints yet'}.` : ''}
        </p>
        <AsOfView state={asOf.data?.cycleAsOf} loading={asOf.loading} stale={settledId !== current?.eventId} />
        <ErrorMessage error={asOf.error} title="The cycle could not be rebuilt as of this event" />
      </section>
      <section aria-labelledby="timeline-title" className="card">
        <h2 id="timeline-title">Timeline ({h.events.length}{h.complete ? '' : '+'} events)</h2>
        <ol className="timeline" ref={timeline}>
          {h.events.map((e, i) => (
            <li key={e.eventId} aria-current={i === index ? 'step' : undefined} className={i === index ? 'timeline-current' : i > index ? 'timeline-after' : undefined}>
              <button type="button" className="timeline-event" onClick={() => choose(i)}>
                <span className="visually-hidden">Event {i + 1}: </span>
                <Time at={e.recordedAt} /> <strong>{e.type}</strong>
              </button>{' '}
              <span className="muted">
                {e.stream} #{e.revision} · {e.actor}
              </span>
            </li>
          ))}
        </ol>
        {current ? (
          <details>
            <summary>Event {index + 1} in full</summary>
            <dl className="kv">
              <dt>Event id</dt>
              <dd>
                <code>{current.eventId}</code>
              </dd>
              <dt>Position</dt>
              <dd>{current.position}</dd>
              <dt>Hash</dt>
              <dd>
                <code>{current.hash}</code>
              </dd>
              <dt>Previous hash</dt>
              <dd>
                <code>{current.prevHash}</code>
              </dd>
            </dl>
            <pre className="output">{JSON.stringify(current.data, null, 2)}</pre>
          </details>
        ) : null}
      </section>
    </div>
  );
}

type AsOf = NonNullable<import('../../gql/graphql').AuditAsOfQuery['cycleAsOf']>;

function AsOfView({ state, loading, stale }: { state: AsOf | undefined; loading: boolean; stale: boolean }) {
  const [page, setPage] = useState(0);
  if (!state) return loading ? <Loading label="Rebuilding the cycle" /> : null;
  const shown = state.endpoints.slice(page * ENDPOINTS_SHOWN, (page + 1) * ENDPOINTS_SHOWN);
  const pages = Math.ceil(state.endpoints.length / ENDPOINTS_SHOWN);
  return (
    <div className={stale || loading ? 'asof-stale' : undefined} aria-busy={stale || loading}>
      <dl className="kv">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={state.status} /> {state.haltCode ? <code>{state.haltCode}</code> : null}
        </dd>
        <dt>As of</dt>
        <dd>
          event {state.eventCount}, <Time at={state.lastRecordedAt} />
        </dd>
        <dt>Approvals</dt>
        <dd>
          {state.approvals}
          {state.approvalsRequired !== null && state.approvalsRequired !== undefined ? ` of ${state.approvalsRequired} required` : ''}
        </dd>
        <dt>Endpoints by state</dt>
        <dd>
          {state.endpointsByState.length ? (
            <ul className="inline-list" aria-label="Endpoints by state">
              {state.endpointsByState.map((s) => (
                <li key={s.state}>
                  <StatusBadge status={s.state} /> {s.count}
                </li>
              ))}
            </ul>
          ) : (
            'none planned yet'
          )}
        </dd>
        {state.unknownEventTypes.length ? (
          <>
            <dt>Skipped event types</dt>
            <dd>{state.unknownEventTypes.join(', ')}</dd>
          </>
        ) : null}
      </dl>
      {state.waves.length ? (
        <table>
          <caption>Waves as of this event</caption>
          <thead>
            <tr>
              <th scope="col">Wave</th>
              <th scope="col">Status</th>
              <th scope="col">Size</th>
              <th scope="col">Succeeded</th>
              <th scope="col">Failed</th>
            </tr>
          </thead>
          <tbody>
            {state.waves.map((w) => (
              <tr key={w.index}>
                <th scope="row">
                  {w.index} {w.name}
                </th>
                <td>
                  <StatusBadge status={w.status} />
                </td>
                <td>{w.size}</td>
                <td>{w.succeeded}</td>
                <td>{w.failed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {state.endpoints.length ? (
        <>
          <table>
            <caption>Endpoints as of this event</caption>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">State</th>
                <th scope="col">Step</th>
                <th scope="col">Wave</th>
                <th scope="col">Group</th>
                <th scope="col">Code</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr key={e.endpointId}>
                  <th scope="row">
                    <Link to={`/fleet/${encodeURIComponent(e.endpointId)}`}>{e.endpointId}</Link>
                  </th>
                  <td>
                    <StatusBadge status={e.state} />
                  </td>
                  <td>{e.step ?? '—'}</td>
                  <td>{e.wave ?? '—'}</td>
                  <td>{e.groupId ?? '—'}</td>
                  <td>{e.code ? <code>{e.code}</code> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {pages > 1 ? (
            <nav className="pager" aria-label="Endpoint state pages">
              <Button onClick={() => setPage((p) => p - 1)} disabled={page === 0}>
                Previous
              </Button>
              <span>
                Page {page + 1} of {pages}
              </span>
              <Button onClick={() => setPage((p) => p + 1)} disabled={page + 1 >= pages}>
                Next
              </Button>
            </nav>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
