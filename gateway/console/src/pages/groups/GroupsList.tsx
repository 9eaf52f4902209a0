import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Link, useQueryParams } from '../../app/router';
import { Empty, ErrorMessage, Field, Loading, Page, Pager, usePager } from '../../ui/components';
import { SelectorText } from './Definition';
import { definitionView } from './selector';
import '../fleet/fleet.css';

const GroupsListQuery = graphql(`
  query GroupsList($tier: String, $first: Int, $after: String) {
    referenceGroups(tier: $tier, first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          name
          tier
          version
          memberCount
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

const GroupTiersQuery = graphql(`
  query GroupTiers {
    referenceGroups(first: 150) {
      edges {
        node {
          id
          tier
        }
      }
    }
  }
`);

/** Every reference group: tier, selector in words, member count; filtered by tier (kept in the URL). */
export function GroupsList() {
  const [params, setParams] = useQueryParams();
  const tier = params.get('tier') ?? '';
  const pager = usePager(50, tier);
  const q = useQuery(GroupsListQuery, { ...(tier ? { tier } : {}), first: pager.first, after: pager.after });
  const tiersQ = useQuery(GroupTiersQuery, {});
  const tiers = [...new Set([...(tiersQ.data?.referenceGroups.edges.map((e) => e.node.tier) ?? []), ...(tier ? [tier] : [])])].sort();
  const rows = q.data?.referenceGroups.edges ?? [];
  return (
    <Page title="Reference groups">
      <div className="filters">
        <Field label="Tier">
          {(p) => (
            <select {...p} value={tier} onChange={(e) => setParams({ tier: e.target.value || undefined })}>
              <option value="">Any tier</option>
              {tiers.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <ErrorMessage error={q.error} title="Reference groups could not be loaded" />
      {q.loading && !q.data ? <Loading label="Loading reference groups" /> : null}
      {q.data && rows.length === 0 ? <Empty>{tier ? `No reference group in tier ${tier}.` : 'No reference groups yet: apply a policy bundle (patchbay apply).'}</Empty> : null}
      {rows.length ? (
        <div className="table-wrap">
          <table aria-busy={q.loading}>
            <caption className="visually-hidden">Reference groups</caption>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Tier</th>
                <th scope="col">Members</th>
                <th scope="col">Selector</th>
                <th scope="col">Static members / exclusions</th>
                <th scope="col">Version</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ node: g }) => {
                const def = definitionView(g.definition);
                return (
                  <tr key={g.id}>
                    <th scope="row">
                      <Link to={`/groups/${encodeURIComponent(g.id)}`}>{g.name ?? g.id}</Link>
                      {g.name ? <div className="muted mono">{g.id}</div> : null}
                    </th>
                    <td>
                      <span className="badge tone-busy">{g.tier}</span>
                    </td>
                    <td>{g.memberCount}</td>
                    <td>
                      <SelectorText selector={def.selector} />
                    </td>
                    <td>
                      {def.members.length} / {def.exclusions.length}
                    </td>
                    <td>v{g.version}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {q.data ? <Pager label="Reference group" page={pager.page} hasNext={q.data.referenceGroups.pageInfo.hasNextPage} onNext={() => pager.next(q.data?.referenceGroups.pageInfo.endCursor)} onPrevious={pager.previous} /> : null}
    </Page>
  );
}
