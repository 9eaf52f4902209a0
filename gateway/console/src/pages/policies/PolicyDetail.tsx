import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Link } from '../../app/router';
import { Empty, ErrorMessage, Loading, Page, Time } from '../../ui/components';
import { durationText, formatInZone, policyView, quantityText, viewerTimeZone, type PolicyView } from './definition';
import '../fleet/fleet.css';

const PolicyDetailQuery = graphql(`
  query PolicyDetail($id: ID!) {
    policy(id: $id) {
      id
      name
      version
      deleted
      updatedAt
      definition
    }
  }
`);

const PolicyWindowsQuery = graphql(`
  query PolicyWindows($id: ID!, $count: Int) {
    policyWindows(policyId: $id, count: $count) {
      windowIndex
      start
      end
      timezone
      localStart
    }
  }
`);

const PolicyGroupsQuery = graphql(`
  query PolicyGroups {
    referenceGroups(first: 150) {
      edges {
        node {
          id
          name
          tier
          memberCount
        }
      }
    }
  }
`);

/** One policy: what it patches, approval, windows in both zones, rollout order, limits, workflow. */
export function PolicyDetail({ id }: { id: string }) {
  const q = useQuery(PolicyDetailQuery, { id });
  const p = q.data?.policy;
  const v = p ? policyView(p.definition) : undefined;
  return (
    <Page title={p?.name ? `Policy ${p.name}` : `Policy ${id}`}>
      <p>
        <Link to="/policies">← All policies</Link>
      </p>
      <ErrorMessage error={q.error} title="The policy could not be loaded" />
      {q.loading && !q.data ? <Loading label="Loading the policy" /> : null}
      {q.data && !p ? <Empty>No policy {id}.</Empty> : null}
      {p && v ? (
        <>
          {p.deleted ? <p className="error-box">This policy was deleted; what follows is its last definition.</p> : null}
          <div className="grid">
            <section className="card" aria-labelledby="what-title">
              <h2 id="what-title">What it patches</h2>
              <dl className="kv">
                <dt>Version</dt>
                <dd>
                  v{p.version}, updated <Time at={p.updatedAt} />
                </dd>
                {v.description ? (
                  <>
                    <dt>Description</dt>
                    <dd>{v.description}</dd>
                  </>
                ) : null}
                <dt>Updates</dt>
                <dd>
                  {v.updates.include === 'security' ? 'security updates only' : 'all updates'}
                  {v.updates.minSeverity ? `, at least ${v.updates.minSeverity}` : ''}
                </dd>
                <dt>Packages allowed</dt>
                <dd>{v.updates.allow.length ? v.updates.allow.join(', ') : 'any'}</dd>
                <dt>Packages denied</dt>
                <dd>{v.updates.deny.length ? v.updates.deny.join(', ') : 'none'}</dd>
                <dt>CVEs</dt>
                <dd>{v.updates.cves.length ? v.updates.cves.join(', ') : 'no CVE filter'}</dd>
                <dt>Reboot</dt>
                <dd>{v.reboot ?? 'not set'}</dd>
                <dt>Workflow</dt>
                <dd>
                  {v.workflow ? (
                    <>
                      <Link to={`/workflows/${encodeURIComponent(v.workflow.id)}`}>{v.workflow.id}</Link>
                      {v.workflow.version ? ` version ${v.workflow.version}` : ' (latest version)'}
                    </>
                  ) : (
                    'none'
                  )}
                </dd>
              </dl>
            </section>
            <section className="card" aria-labelledby="approval-title">
              <h2 id="approval-title">Approval and limits</h2>
              <dl className="kv">
                <dt>Approval</dt>
                <dd>
                  {v.approval?.mode === 'manual' ? (
                    <>
                      manual: {v.approval.minApprovals} approval{v.approval.minApprovals === 1 ? '' : 's'} required from {v.approval.approvers.join(', ')} (never the cycle's requester)
                    </>
                  ) : v.approval?.mode === 'auto' ? (
                    v.approval.afterDays ? `automatic once the updates are ${v.approval.afterDays} days old` : 'automatic, at once'
                  ) : (
                    'not set'
                  )}
                </dd>
                <dt>Concurrency</dt>
                <dd>at most {quantityText(v.maxConcurrency)} at once</dd>
                <dt>Disruption budget</dt>
                <dd>{v.disruptionBudget ? `at most ${quantityText(v.disruptionBudget.maxUnavailable, 'members')} of each cluster (endpoints sharing the label ${v.disruptionBudget.clusterLabel}) down at once` : 'none'}</dd>
                <dt>Error threshold</dt>
                <dd>the cycle halts once {quantityText(v.errorThreshold)} failed</dd>
              </dl>
            </section>
          </div>
          <Rollout v={v} />
          <Windows policyId={p.id} v={v} />
          <details>
            <summary>Definition as JSON</summary>
            <pre className="output">{JSON.stringify(p.definition, null, 2)}</pre>
          </details>
        </>
      ) : null}
    </Page>
  );
}

/** The policy's groups in the order cycles reach them: by the tier order, unknown tiers last. */
function Rollout({ v }: { v: PolicyView }) {
  const q = useQuery(PolicyGroupsQuery, {});
  const known = new Map((q.data?.referenceGroups.edges ?? []).map((e) => [e.node.id, e.node]));
  const rank = (tier: string | undefined) => {
    const i = tier ? v.tierOrder.indexOf(tier) : -1;
    return i < 0 ? v.tierOrder.length : i;
  };
  const ordered = v.groups.map((id, i) => ({ id, i, g: known.get(id) })).sort((a, b) => rank(a.g?.tier) - rank(b.g?.tier) || a.i - b.i);
  return (
    <section className="card" aria-labelledby="rollout-title">
      <h2 id="rollout-title">Rollout order</h2>
      <p>
        Tier order: {v.tierOrder.length ? v.tierOrder.map((t, i) => <span key={t}>{i ? ' → ' : ''}<span className="badge tone-busy">{t}</span></span>) : 'not set'}
        {v.canary !== undefined ? <>. A canary of {quantityText(v.canary)} goes first, alone.</> : '.'}
        {v.waves.length ? ` Then waves of ${v.waves.map((w) => quantityText(w)).join(', ')}; what is left goes in a last wave.` : ''}
      </p>
      <ErrorMessage error={q.error} title="The groups' tiers could not be loaded" />
      <ol>
        {ordered.map(({ id, g }) => (
          <li key={id}>
            <Link to={`/groups/${encodeURIComponent(id)}`}>{g?.name ?? id}</Link> {g ? <span className="badge tone-busy">{g.tier}</span> : q.data ? <span className="muted">(no such group now)</span> : null} {g ? <span className="muted">{g.memberCount} endpoints</span> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

/** Windows as defined, then the next occurrences in the policy's zone and in the viewer's. */
function Windows({ policyId, v }: { policyId: string; v: PolicyView }) {
  const q = useQuery(PolicyWindowsQuery, { id: policyId, count: 6 }, { skip: v.windows.length === 0 });
  const mine = viewerTimeZone();
  return (
    <section className="card" aria-labelledby="windows-title">
      <h2 id="windows-title">Maintenance windows</h2>
      {v.windows.length === 0 ? (
        <Empty>No windows: cycles of this policy may run at any time.</Empty>
      ) : (
        <>
          <ol>
            {v.windows.map((w, i) => (
              <li key={i}>
                Window {i + 1} starts at <code>{w.cron}</code> (cron, read in <strong>{w.timezone}</strong>), lasts {durationText(w.durationMinutes)}
                {w.blackoutDates.length ? `; none on ${w.blackoutDates.join(', ')}` : ''}
              </li>
            ))}
          </ol>
          <h3>Next windows</h3>
          <p className="muted">Your time zone: {mine}.</p>
          <ErrorMessage error={q.error} title="The next windows could not be computed" />
          {q.loading && !q.data ? <Loading label="Computing the next windows" /> : null}
          {q.data && q.data.policyWindows.length === 0 ? <Empty>No upcoming window.</Empty> : null}
          {q.data?.policyWindows.length ? (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Next maintenance windows of {policyId}</caption>
                <thead>
                  <tr>
                    <th scope="col">Window</th>
                    <th scope="col">Policy's zone</th>
                    <th scope="col">Starts (policy's zone)</th>
                    <th scope="col">Ends (policy's zone)</th>
                    <th scope="col">Starts (your zone, {mine})</th>
                    <th scope="col">Ends (your zone)</th>
                  </tr>
                </thead>
                <tbody>
                  {q.data.policyWindows.map((o) => (
                    <tr key={`${o.windowIndex}-${o.start}`}>
                      <th scope="row">Window {o.windowIndex + 1}</th>
                      <td>{o.timezone}</td>
                      <td>
                        <time dateTime={o.localStart}>{formatInZone(o.start, o.timezone)}</time>
                      </td>
                      <td>{formatInZone(o.end, o.timezone)}</td>
                      <td>
                        <time dateTime={o.start}>{formatInZone(o.start, mine)}</time>
                      </td>
                      <td>{formatInZone(o.end, mine)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}
