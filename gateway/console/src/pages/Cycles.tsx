import { useCallback, useEffect, useRef, useState } from 'react';
import { graphql } from '../gql';
import { useMutation, useQuery } from '../api/hooks';
import { Link, useQueryParams, useRouter } from '../app/router';
import { useSession } from '../app/session';
import { Button, Empty, ErrorMessage, Field, Loading, Page, Pager, StatusBadge, Time, usePager } from '../ui/components';
import { LiveView } from './cycles/LiveView';
import { PlanPreview } from './cycles/PlanPreview';
import { waitForCycle } from './cycles/wait';
import './cycles/cycles.css';

const CycleListQuery = graphql(`
  query CycleList($filter: CycleFilter, $first: Int, $after: String) {
    cycles(filter: $filter, first: $first, after: $after) {
      edges {
        node {
          id
          kind
          policyId
          status
          requestedBy
          requestedAt
          counts {
            planned
            succeeded
            failed
            skipped
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

export const CycleDetailQuery = graphql(`
  query CycleDetail($id: ID!) {
    cycle(id: $id) {
      id
      kind
      policyId
      status
      requestedBy
      requestedAt
      planHash
      startedAt
      finishedAt
      approvalsRequired
      approvals {
        by
        auto
        comment
        at
      }
      waves {
        index
        name
        size
        state
        succeeded
        failed
      }
      counts {
        planned
        skipped
        released
        succeeded
        failed
        cancelled
      }
      haltReason {
        code
        reason
        failed
        threshold
        at
      }
      pauseReason
      abortReason
    }
  }
`);

export const PolicyChoicesQuery = graphql(`
  query PolicyChoices {
    policies(first: 200) {
      edges {
        node {
          id
          name
          definition
        }
      }
    }
  }
`);

export const PreviewCycleMutation = graphql(`
  mutation PreviewCycle($policyId: String!, $emergency: JSON) {
    previewCycle(policyId: $policyId, emergency: $emergency) {
      commandId
      result
    }
  }
`);

const RequestCycleMutation = graphql(`
  mutation RequestCycle($policyId: String!) {
    requestCycle(policyId: $policyId) {
      commandId
      id
      result
    }
  }
`);

const ApproveCycleMutation = graphql(`
  mutation ApproveCycle($cycleId: ID!, $comment: String) {
    approveCycle(cycleId: $cycleId, comment: $comment) {
      commandId
    }
  }
`);

const PauseCycleMutation = graphql(`
  mutation PauseCycle($cycleId: ID!, $reason: String!) {
    pauseCycle(cycleId: $cycleId, reason: $reason) {
      commandId
    }
  }
`);

const ResumeCycleMutation = graphql(`
  mutation ResumeCycle($cycleId: ID!) {
    resumeCycle(cycleId: $cycleId) {
      commandId
    }
  }
`);

const AbortCycleMutation = graphql(`
  mutation AbortCycle($cycleId: ID!, $reason: String!) {
    abortCycle(cycleId: $cycleId, reason: $reason) {
      commandId
    }
  }
`);

const STATUSES = ['awaiting-approval', 'approved', 'running', 'paused', 'halted', 'aborted', 'completed', 'planned', 'requested'] as const;
const KINDS = ['manual', 'scheduled', 'emergency'] as const;
const TERMINAL = new Set(['completed', 'aborted']);

export function CyclesPage({ cycleId }: { cycleId?: string | undefined }) {
  const [query] = useQueryParams();
  if (cycleId) return <CycleDetail key={cycleId} cycleId={cycleId} />;
  if (query.get('request') !== null) return <RequestCycle />;
  return <CycleList />;
}

function CycleList() {
  const { can } = useSession();
  const [query, setQuery] = useQueryParams();
  const status = (query.get('status') ?? '').split(',').filter(Boolean);
  const kind = query.get('kind') ?? '';
  const pager = usePager(50, `${status.join(',')}|${kind}`);
  const filter = { ...(status.length ? { status } : {}), ...(kind ? { kind: [kind] } : {}) };
  const q = useQuery(CycleListQuery, { filter, first: pager.first, after: pager.after });
  const edges = q.data?.cycles.edges ?? [];
  const toggle = (s: string) => setQuery({ status: (status.includes(s) ? status.filter((x) => x !== s) : [...status, s]).join(',') });
  return (
    <Page
      title="Cycles"
      actions={
        can('Mutation.requestCycle') ? (
          <Link to="/cycles?request=1" className="btn btn-primary">
            Request a cycle
          </Link>
        ) : null
      }
    >
      <div className="filters">
        <fieldset className="status-filter">
          <legend>Status</legend>
          {STATUSES.map((s) => (
            <label key={s} className="wf-check">
              <input type="checkbox" checked={status.includes(s)} onChange={() => toggle(s)} /> {s}
            </label>
          ))}
        </fieldset>
        <Field label="Kind">
          {(p) => (
            <select {...p} value={kind} onChange={(e) => setQuery({ kind: e.target.value })}>
              <option value="">Any</option>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          )}
        </Field>
        {status.length || kind ? <Button onClick={() => setQuery({ status: undefined, kind: undefined })}>Clear filters</Button> : null}
      </div>
      <ErrorMessage error={q.error} />
      {q.loading && !q.data ? <Loading label="Loading cycles" /> : null}
      {q.data && edges.length === 0 ? <Empty>No cycles{status.length || kind ? ' match these filters' : ' yet'}.</Empty> : null}
      {edges.length ? (
        <table>
          <caption className="visually-hidden">Cycles</caption>
          <thead>
            <tr>
              <th scope="col">Cycle</th>
              <th scope="col">Status</th>
              <th scope="col">Kind</th>
              <th scope="col">Policy</th>
              <th scope="col">Requested</th>
              <th scope="col">By</th>
              <th scope="col">Endpoints</th>
            </tr>
          </thead>
          <tbody>
            {edges.map(({ node: c }) => (
              <tr key={c.id}>
                <th scope="row">
                  <Link to={`/cycles/${encodeURIComponent(c.id)}`}>{c.id}</Link>
                </th>
                <td>
                  <StatusBadge status={c.status} />
                </td>
                <td>{c.kind}</td>
                <td>{c.policyId}</td>
                <td>
                  <Time at={c.requestedAt} />
                </td>
                <td>{c.requestedBy}</td>
                <td>
                  {c.counts.planned} planned, {c.counts.succeeded} ok, {c.counts.failed} failed{c.counts.skipped ? `, ${c.counts.skipped} skipped` : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager label="Cycles" page={pager.page} hasNext={q.data?.cycles.pageInfo.hasNextPage ?? false} onNext={() => pager.next(q.data?.cycles.pageInfo.endCursor)} onPrevious={pager.previous} />
    </Page>
  );
}

function RequestCycle() {
  const { can } = useSession();
  const { navigate } = useRouter();
  const [query, setQuery] = useQueryParams();
  const policies = useQuery(PolicyChoicesQuery, {});
  const policyId = query.get('policy') ?? '';
  const preview = useMutation(PreviewCycleMutation);
  const req = useMutation(RequestCycleMutation);
  const [waiting, setWaiting] = useState(false);
  if (!can('Mutation.requestCycle')) {
    return (
      <Page title="Request a cycle">
        <Empty>Your role cannot request cycles.</Empty>
      </Page>
    );
  }
  const choose = (id: string) => {
    preview.reset();
    setQuery({ policy: id });
  };
  const doRequest = async () => {
    const r = await req.run({ policyId });
    const id = r?.requestCycle.id ?? ((r?.requestCycle.result as { cycleId?: string } | null)?.cycleId ?? undefined);
    if (!id) return;
    setWaiting(true);
    await waitForCycle(id);
    navigate(`/cycles/${encodeURIComponent(id)}`);
  };
  return (
    <Page title="Request a cycle">
      <p>
        <Link to="/cycles">All cycles</Link>
      </p>
      <ErrorMessage error={policies.error} />
      <div className="card">
        <Field label="Policy" hint="The cycle patches the policy's reference groups with its workflow.">
          {(p) => (
            <select {...p} value={policyId} onChange={(e) => choose(e.target.value)}>
              <option value="">Choose a policy</option>
              {(policies.data?.policies.edges ?? []).map(({ node }) => (
                <option key={node.id} value={node.id}>
                  {node.id}
                  {node.name ? ` — ${node.name}` : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="page-actions">
          {can('Mutation.previewCycle') ? (
            <Button onClick={() => void preview.run({ policyId })} disabled={!policyId || preview.running}>
              {preview.running ? 'Planning…' : 'Preview plan'}
            </Button>
          ) : null}
          <Button tone="primary" onClick={() => void doRequest()} disabled={!policyId || req.running || waiting || (can('Mutation.previewCycle') && !preview.result)}>
            {req.running || waiting ? 'Requesting…' : 'Request cycle'}
          </Button>
        </div>
        {can('Mutation.previewCycle') && !preview.result ? <p className="hint">Preview the plan first: the cycle is planned the same way when requested.</p> : null}
        <ErrorMessage error={preview.error} title="No plan" />
        <ErrorMessage error={req.error} title="Not requested" />
      </div>
      {preview.result ? <PlanPreview reply={preview.result.previewCycle.result} /> : null}
    </Page>
  );
}

function CycleDetail({ cycleId }: { cycleId: string }) {
  const { me, can } = useSession();
  const q = useQuery(CycleDetailQuery, { id: cycleId });
  const c = q.data?.cycle;
  const [live, setLive] = useState<string>();
  const onStatus = useCallback((s: string) => setLive(s), []);
  const status = live && live !== 'unknown' ? live : c?.status;
  const reload = q.reload;
  // The header (approvals, reasons, times) comes from the read model: read it again when the live
  // status moves past it (the projection follows the events closely; a moment later it has them).
  const rereads = useRef({ status: '', n: 0 });
  useEffect(() => {
    if (!live || live === 'unknown' || !c || live === c.status) return;
    if (rereads.current.status !== live) rereads.current = { status: live, n: 0 };
    if (++rereads.current.n > 10) return;
    const timer = setTimeout(() => void reload(), 500);
    return () => clearTimeout(timer);
  }, [live, c, reload]);
  return (
    <Page title={`Cycle ${cycleId}`}>
      <p>
        <Link to="/cycles">All cycles</Link>
      </p>
      <ErrorMessage error={q.error} />
      {q.loading && !q.data ? <Loading label="Loading the cycle" /> : null}
      {q.data && !c ? <Empty>No cycle {cycleId} (yet): a cycle just requested appears once it is recorded.</Empty> : null}
      {c ? (
        <>
          <div className="card cycle-head">
            <dl className="facts">
              <div>
                <dt>Status</dt>
                <dd>
                  <StatusBadge status={status ?? c.status} />
                </dd>
              </div>
              <div>
                <dt>Kind</dt>
                <dd>{c.kind}</dd>
              </div>
              <div>
                <dt>Policy</dt>
                <dd>
                  <Link to={`/policies/${encodeURIComponent(c.policyId)}`}>{c.policyId}</Link>
                </dd>
              </div>
              <div>
                <dt>Requested</dt>
                <dd>
                  <Time at={c.requestedAt} /> by {c.requestedBy}
                </dd>
              </div>
              <div>
                <dt>Approvals</dt>
                <dd>
                  {c.approvals.length}
                  {c.approvalsRequired ? ` of ${c.approvalsRequired}` : ''}
                  {c.approvals.length ? ` (${c.approvals.map((a) => `${a.by}${a.auto ? ', automatic' : ''}`).join('; ')})` : ''}
                </dd>
              </div>
              {c.planHash ? (
                <div>
                  <dt>Plan hash</dt>
                  <dd>
                    <code>{c.planHash.slice(0, 12)}</code>
                  </dd>
                </div>
              ) : null}
              <div>
                <dt>Audit</dt>
                <dd>
                  <Link to={`/audit/${encodeURIComponent(c.id)}`}>History of this cycle</Link>
                </dd>
              </div>
            </dl>
            {c.pauseReason && status === 'paused' ? <p>Paused: {c.pauseReason}</p> : null}
            {c.abortReason ? <p>Aborted: {c.abortReason}</p> : null}
            <CycleActions cycleId={c.id} status={status ?? c.status} requestedBy={c.requestedBy} me={me?.actor} can={can} onDone={reload} />
          </div>
          <LiveView cycle={c} onStatus={onStatus} />
        </>
      ) : null}
    </Page>
  );
}

/** Approve, pause, resume, abort: each shown only when the role allows it and the status makes sense. */
function CycleActions({ cycleId, status, requestedBy, me, can, onDone }: { cycleId: string; status: string; requestedBy: string; me: string | undefined; can(op: string): boolean; onDone(): Promise<void> }) {
  const approve = useMutation(ApproveCycleMutation);
  const pause = useMutation(PauseCycleMutation);
  const resume = useMutation(ResumeCycleMutation);
  const abort = useMutation(AbortCycleMutation);
  const [comment, setComment] = useState('');
  const [pauseReason, setPauseReason] = useState('');
  const [abortReason, setAbortReason] = useState('');
  const [confirmAbort, setConfirmAbort] = useState(false);
  const [done, setDone] = useState('');
  const after = async (what: string, r: unknown) => {
    if (!r) return;
    setDone(what);
    await onDone();
  };
  const canApprove = can('Mutation.approveCycle') && me !== requestedBy && status === 'awaiting-approval';
  const canPause = can('Mutation.pauseCycle') && (status === 'running' || status === 'approved');
  const canResume = can('Mutation.resumeCycle') && status === 'paused';
  const canAbort = can('Mutation.abortCycle') && !TERMINAL.has(status);
  // The requester sees why there is no approve button, whatever else they may do with the cycle.
  const requesterNote = status === 'awaiting-approval' && me === requestedBy ? <p className="muted requester-note">You requested this cycle: another approver must approve it.</p> : null;
  if (!canApprove && !canPause && !canResume && !canAbort) return requesterNote;
  return (
    <div className="cycle-actions">
      {requesterNote}
      {canApprove ? (
        <form
          className="action"
          onSubmit={(e) => {
            e.preventDefault();
            void approve.run({ cycleId, ...(comment.trim() ? { comment: comment.trim() } : {}) }).then((r) => after('Approval recorded.', r));
          }}
        >
          <Field label="Approval comment" hint="Optional.">
            {(p) => <input {...p} type="text" value={comment} onChange={(e) => setComment(e.target.value)} />}
          </Field>
          <button type="submit" className="btn btn-primary" disabled={approve.running}>
            Approve cycle
          </button>
          <ErrorMessage error={approve.error} title="Not approved" />
        </form>
      ) : null}
      {canPause ? (
        <form
          className="action"
          onSubmit={(e) => {
            e.preventDefault();
            void pause.run({ cycleId, reason: pauseReason.trim() }).then((r) => after('Pause requested.', r));
          }}
        >
          <Field label="Pause reason">
            {(p) => <input {...p} type="text" required value={pauseReason} onChange={(e) => setPauseReason(e.target.value)} />}
          </Field>
          <button type="submit" className="btn btn-default" disabled={pause.running || !pauseReason.trim()}>
            Pause cycle
          </button>
          <ErrorMessage error={pause.error} title="Not paused" />
        </form>
      ) : null}
      {canResume ? (
        <div className="action">
          <Button onClick={() => void resume.run({ cycleId }).then((r) => after('Resume requested.', r))} disabled={resume.running}>
            Resume cycle
          </Button>
          <ErrorMessage error={resume.error} title="Not resumed" />
        </div>
      ) : null}
      {canAbort ? (
        <form
          className="action"
          onSubmit={(e) => {
            e.preventDefault();
            if (!confirmAbort) return setConfirmAbort(true);
            void abort.run({ cycleId, reason: abortReason.trim() }).then((r) => {
              setConfirmAbort(false);
              return after('Abort requested.', r);
            });
          }}
        >
          <Field label="Abort reason">
            {(p) => (
              <input
                {...p}
                type="text"
                required
                value={abortReason}
                onChange={(e) => {
                  setAbortReason(e.target.value);
                  setConfirmAbort(false);
                }}
              />
            )}
          </Field>
          {confirmAbort ? (
            <div role="alert" className="confirm">
              <p>Abort cycle {cycleId}? Endpoints in flight are cancelled (their compensations run); nothing more is released. This cannot be undone.</p>
              <button type="submit" className="btn btn-danger" disabled={abort.running}>
                Confirm abort
              </button>{' '}
              <Button onClick={() => setConfirmAbort(false)}>Keep running</Button>
            </div>
          ) : (
            <button type="submit" className="btn btn-danger" disabled={!abortReason.trim()}>
              Abort cycle
            </button>
          )}
          <ErrorMessage error={abort.error} title="Not aborted" />
        </form>
      ) : null}
      <p className="muted" role="status" aria-live="polite">
        {done}
      </p>
    </div>
  );
}
