import { useEffect, useState, type FormEvent } from 'react';
import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Link, useQueryParams } from '../../app/router';
import { Empty, ErrorMessage, Field, Loading, Page, Pager, StatusBadge, Time, usePager } from '../../ui/components';
import { ComplianceGaps } from '../fleet/Compliance';
import { DefinitionList } from './Definition';
import { definitionView, describeRequirement, explainMembership } from './selector';
import '../fleet/fleet.css';

const GroupDetailQuery = graphql(`
  query GroupDetail($id: ID!, $first: Int, $after: String) {
    referenceGroup(id: $id) {
      id
      name
      tier
      version
      deleted
      memberCount
      definition
      members(first: $first, after: $after) {
        edges {
          cursor
          node {
            endpointId
            reason
            since
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

const GroupEndpointQuery = graphql(`
  query GroupEndpoint($id: ID!) {
    endpoint(id: $id) {
      id
      retired
      groupIds
      labels {
        key
        value
      }
    }
  }
`);

/** One group: its definition in words, members with why each is in, compliance, and why a chosen endpoint is out. */
export function GroupDetail({ id }: { id: string }) {
  const pager = usePager(50, id);
  const q = useQuery(GroupDetailQuery, { id, first: pager.first, after: pager.after });
  const g = q.data?.referenceGroup;
  const def = definitionView(g?.definition);
  const description = (g?.definition as { description?: unknown } | undefined)?.description;
  const members = g?.members.edges ?? [];
  return (
    <Page title={g?.name ? `Reference group ${g.name}` : `Reference group ${id}`}>
      <p>
        <Link to="/groups">← All reference groups</Link>
      </p>
      <ErrorMessage error={q.error} title="The group could not be loaded" />
      {q.loading && !q.data ? <Loading label="Loading the group" /> : null}
      {q.data && !g ? <Empty>No reference group {id}.</Empty> : null}
      {g ? (
        <>
          {g.deleted ? <p className="error-box">This group was deleted; what follows is its last definition.</p> : null}
          <div className="grid">
            <section className="card" aria-labelledby="definition-title">
              <h2 id="definition-title">Definition (version {g.version})</h2>
              <DefinitionList def={def} tier={g.tier} description={typeof description === 'string' ? description : undefined} />
              <details>
                <summary>Definition as JSON</summary>
                <pre className="output">{JSON.stringify(g.definition, null, 2)}</pre>
              </details>
            </section>
            <section className="card" aria-labelledby="why-title">
              <h2 id="why-title">Why is an endpoint in or out?</h2>
              <WhyInOrOut groupId={g.id} def={def} />
            </section>
          </div>
          <section aria-labelledby="members-title">
            <h2 id="members-title">Members ({g.memberCount})</h2>
            {members.length === 0 ? (
              <Empty>{pager.page > 1 ? 'No more members.' : 'No endpoint is in this group.'}</Empty>
            ) : (
              <div className="table-wrap">
                <table aria-busy={q.loading}>
                  <caption className="visually-hidden">Members of {g.id}, page {pager.page}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Endpoint</th>
                      <th scope="col">Why it is in</th>
                      <th scope="col">Member since</th>
                    </tr>
                  </thead>
                  <tbody>
                    {members.map(({ node: m }) => (
                      <tr key={m.endpointId}>
                        <th scope="row">
                          <Link to={`/fleet/${encodeURIComponent(m.endpointId)}`}>{m.endpointId}</Link>
                        </th>
                        <td>{m.reason}</td>
                        <td>
                          <Time at={m.since} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <Pager label="Member" page={pager.page} hasNext={g.members.pageInfo.hasNextPage} onNext={() => pager.next(g.members.pageInfo.endCursor)} onPrevious={pager.previous} />
          </section>
          <section aria-labelledby="group-compliance-title">
            <h2 id="group-compliance-title">Compliance</h2>
            <ComplianceGaps scope={{ groupId: g.id }} title={`group ${g.id}`} />
          </section>
        </>
      ) : null}
    </Page>
  );
}

/** The chosen endpoint (`?endpoint=` in the URL) against the group's selector and static lists, in the browser. */
function WhyInOrOut({ groupId, def }: { groupId: string; def: ReturnType<typeof definitionView> }) {
  const [params, setParams] = useQueryParams();
  const chosen = params.get('endpoint') ?? '';
  const [draft, setDraft] = useState(chosen);
  useEffect(() => setDraft(chosen), [chosen]);
  const q = useQuery(GroupEndpointQuery, { id: chosen }, { skip: !chosen });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setParams({ endpoint: draft.trim() || undefined });
  };
  const ep = chosen ? q.data?.endpoint : undefined;
  const verdict = ep ? explainMembership(def, ep) : undefined;
  const serverSaysMember = ep?.groupIds.includes(groupId);
  return (
    <>
      <form onSubmit={submit} className="filters">
        <Field label="Endpoint id" hint="Checked against this group's selector, members and exclusions">
          {(p) => <input {...p} name="endpoint" value={draft} onChange={(e) => setDraft(e.target.value)} spellCheck={false} />}
        </Field>
        <button type="submit" className="btn btn-default">
          Explain membership
        </button>
      </form>
      <div aria-live="polite">
        {chosen && q.loading ? <Loading label="Looking up the endpoint" /> : null}
        <ErrorMessage error={q.error} title="The endpoint could not be loaded" />
        {chosen && q.data && !q.data.endpoint ? <p>No endpoint {chosen} is registered, so it is in no group.</p> : null}
        {ep && verdict ? (
          <div className="verdict">
            <p>
              <strong>{ep.id}</strong> is {serverSaysMember ? <span className="verdict-ok">in this group</span> : <span className="verdict-no">not in this group</span>} (membership as the policy service recorded it).
            </p>
            {verdict.known ? (
              <>
                <p>{verdict.summary}</p>
                {verdict.requirements.length ? (
                  <table>
                    <caption>Selector requirements against the labels of {ep.id}</caption>
                    <thead>
                      <tr>
                        <th scope="col">Requirement</th>
                        <th scope="col">Label value</th>
                        <th scope="col">Holds</th>
                      </tr>
                    </thead>
                    <tbody>
                      {verdict.requirements.map((r) => (
                        <tr key={describeRequirement(r.requirement)}>
                          <th scope="row">{describeRequirement(r.requirement)}</th>
                          <td>{r.actual === undefined ? <span className="muted">absent</span> : <code>{r.actual}</code>}</td>
                          <td>{r.holds ? <span className="verdict-ok">yes</span> : <span className="verdict-no">no</span>}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                ) : null}
                <ul className="inline-list">
                  <li>Static member: {verdict.staticMember ? 'yes' : 'no'}</li>
                  <li>Excluded: {verdict.excluded ? 'yes' : 'no'}</li>
                  <li>Retired: {verdict.retired ? <StatusBadge status="retired" /> : 'no'}</li>
                </ul>
                {verdict.member !== serverSaysMember ? (
                  <p className="error-box" role="note">
                    The labels shown now say {verdict.member ? 'in' : 'out'}, but the recorded membership says {serverSaysMember ? 'in' : 'out'}: the endpoint or the group changed a moment ago and the membership is being recomputed, or the selector reads something the console cannot see. The console cannot tell which from here.
                  </p>
                ) : null}
              </>
            ) : (
              <p>Cannot tell: {verdict.why}.</p>
            )}
          </div>
        ) : null}
      </div>
    </>
  );
}
