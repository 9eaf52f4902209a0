import { useState, type FormEvent } from 'react';
import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Link, useRouter } from '../../app/router';
import { Empty, ErrorMessage, Field, Loading, Pager, StatusBadge, Time, usePager } from '../../ui/components';

const AuditCyclesQuery = graphql(`
  query AuditCycles($first: Int, $after: String) {
    cycles(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          kind
          policyId
          status
          requestedBy
          requestedAt
          finishedAt
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

/** Pick a cycle to audit: from the list, or by its id. */
export function AuditCyclePicker() {
  const pager = usePager(50, '');
  const q = useQuery(AuditCyclesQuery, { first: pager.first, after: pager.after });
  const { navigate } = useRouter();
  const [id, setId] = useState('');
  const go = (e: FormEvent) => {
    e.preventDefault();
    if (id.trim()) navigate(`/audit/${encodeURIComponent(id.trim())}`);
  };
  const rows = q.data?.cycles.edges ?? [];
  return (
    <>
      <form className="filters" onSubmit={go}>
        <Field label="Cycle id">
          {(p) => <input {...p} value={id} onChange={(e) => setId(e.target.value)} spellCheck={false} />}
        </Field>
        <button type="submit" className="btn btn-primary" disabled={!id.trim()}>
          Audit cycle
        </button>
      </form>
      <h2>Cycles</h2>
      <ErrorMessage error={q.error} title="Cycles could not be loaded" />
      {q.loading && !q.data ? <Loading label="Loading cycles" /> : null}
      {q.data && rows.length === 0 ? <Empty>No cycles yet.</Empty> : null}
      {rows.length ? (
        <div className="table-wrap">
          <table aria-busy={q.loading}>
            <caption className="visually-hidden">Cycles to audit</caption>
            <thead>
              <tr>
                <th scope="col">Cycle</th>
                <th scope="col">Kind</th>
                <th scope="col">Policy</th>
                <th scope="col">Status</th>
                <th scope="col">Requested by</th>
                <th scope="col">Requested</th>
                <th scope="col">Finished</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ node: c }) => (
                <tr key={c.id}>
                  <th scope="row">
                    <Link to={`/audit/${encodeURIComponent(c.id)}`}>{c.id}</Link>
                  </th>
                  <td>{c.kind}</td>
                  <td>{c.policyId}</td>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td>{c.requestedBy}</td>
                  <td>
                    <Time at={c.requestedAt} />
                  </td>
                  <td>
                    <Time at={c.finishedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {q.data ? <Pager label="Cycle" page={pager.page} hasNext={q.data.cycles.pageInfo.hasNextPage} onNext={() => pager.next(q.data?.cycles.pageInfo.endCursor)} onPrevious={pager.previous} /> : null}
    </>
  );
}
