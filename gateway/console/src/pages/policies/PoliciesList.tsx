import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Link } from '../../app/router';
import { Empty, ErrorMessage, Loading, Page, Pager, Time, usePager } from '../../ui/components';
import { policyView } from './definition';
import '../fleet/fleet.css';

const PoliciesListQuery = graphql(`
  query PoliciesList($first: Int, $after: String) {
    policies(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          name
          version
          updatedAt
          definition
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

/** Every patch policy: groups, approval, windows, workflow. */
export function PoliciesList() {
  const pager = usePager(50, '');
  const q = useQuery(PoliciesListQuery, { first: pager.first, after: pager.after });
  const rows = q.data?.policies.edges ?? [];
  return (
    <Page title="Policies">
      <ErrorMessage error={q.error} title="Policies could not be loaded" />
      {q.loading && !q.data ? <Loading label="Loading policies" /> : null}
      {q.data && rows.length === 0 ? <Empty>No policies yet: apply a policy bundle (patchbay apply).</Empty> : null}
      {rows.length ? (
        <div className="table-wrap">
          <table aria-busy={q.loading}>
            <caption className="visually-hidden">Patch policies</caption>
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Reference groups</th>
                <th scope="col">Approval</th>
                <th scope="col">Maintenance windows</th>
                <th scope="col">Workflow</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ node: p }) => {
                const v = policyView(p.definition);
                return (
                  <tr key={p.id}>
                    <th scope="row">
                      <Link to={`/policies/${encodeURIComponent(p.id)}`}>{p.name ?? p.id}</Link>
                      <div className="muted mono">
                        {p.name ? `${p.id} ` : ''}v{p.version}
                      </div>
                    </th>
                    <td>{v.groups.join(', ')}</td>
                    <td>{v.approval?.mode === 'manual' ? `manual, ${v.approval.minApprovals} of ${v.approval.approvers.length}` : v.approval?.mode === 'auto' ? (v.approval.afterDays ? `automatic after ${v.approval.afterDays} days` : 'automatic') : 'not set'}</td>
                    <td>{v.windows.length ? `${v.windows.length} (${[...new Set(v.windows.map((w) => w.timezone))].join(', ')})` : 'none: any time'}</td>
                    <td>{v.workflow ? <Link to={`/workflows/${encodeURIComponent(v.workflow.id)}`}>{v.workflow.id}</Link> : <span className="muted">none</span>}{v.workflow?.version ? ` v${v.workflow.version}` : ''}</td>
                    <td>
                      <Time at={p.updatedAt} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {q.data ? <Pager label="Policy" page={pager.page} hasNext={q.data.policies.pageInfo.hasNextPage} onNext={() => pager.next(q.data?.policies.pageInfo.endCursor)} onPrevious={pager.previous} /> : null}
    </Page>
  );
}
