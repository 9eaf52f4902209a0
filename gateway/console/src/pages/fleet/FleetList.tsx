import { useEffect, useState, type FormEvent } from 'react';
import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Link, useQueryParams } from '../../app/router';
import { Empty, ErrorMessage, Field, Loading, Page, Pager, StatusBadge, Time, usePager } from '../../ui/components';
import { Labels, Severity, parseLabelFilter, securityFirst } from './updates';
import { CompliancePanel } from './Compliance';
import './fleet.css';

const FleetEndpointsQuery = graphql(`
  query FleetEndpoints($filter: EndpointFilter, $first: Int, $after: String) {
    endpoints(filter: $filter, first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          retired
          labels {
            key
            value
          }
          hostKey {
            state
          }
          facts {
            gatheredAt
            os {
              id
              versionId
              prettyName
            }
            packageManager
            updatesKnown
            updateCount
            securityUpdateCount
            securityPackages {
              name
              to
              severity
              advisory
            }
          }
          hasSecurityUpdates
          rebootRequired
          groupIds
          lastCycle {
            cycleId
            state
            at
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

export const FleetGroupsQuery = graphql(`
  query FleetGroups {
    referenceGroups(first: 150) {
      edges {
        node {
          id
          name
          tier
        }
      }
      pageInfo {
        hasNextPage
      }
    }
  }
`);

const PAGE_SIZES = [50, 100] as const;
const yesNo = (v: string | null): boolean | undefined => (v === 'yes' ? true : v === 'no' ? false : undefined);

/** Endpoints with their facts, filtered on the server and paged by cursor (never the whole fleet at once). */
export function FleetList() {
  const [params, setParams] = useQueryParams();
  const labelsText = params.get('labels') ?? '';
  const parsedLabels = parseLabelFilter(labelsText);
  const group = params.get('group') ?? '';
  const tier = params.get('tier') ?? '';
  const security = params.get('security');
  const reboot = params.get('reboot');
  const retired = params.get('retired') === '1';
  const size = PAGE_SIZES.find((s) => String(s) === params.get('size')) ?? 50;

  const filter = {
    ...(parsedLabels.labels.length ? { labels: parsedLabels.labels } : {}),
    ...(group ? { group } : {}),
    ...(tier ? { tier } : {}),
    ...(yesNo(security) !== undefined ? { hasSecurityUpdates: yesNo(security) } : {}),
    ...(yesNo(reboot) !== undefined ? { rebootRequired: yesNo(reboot) } : {}),
    ...(retired ? { includeRetired: true } : {}),
  };
  const filterKey = JSON.stringify([filter, size]);
  const pager = usePager(size, filterKey);
  const endpoints = useQuery(FleetEndpointsQuery, { filter, first: pager.first, after: pager.after });
  const groups = useQuery(FleetGroupsQuery, {});
  const groupList = groups.data?.referenceGroups.edges.map((e) => e.node) ?? [];
  const tiers = [...new Set(groupList.map((g) => g.tier))].sort();

  const [labelDraft, setLabelDraft] = useState(labelsText);
  useEffect(() => setLabelDraft(labelsText), [labelsText]);
  const draftError = parseLabelFilter(labelDraft).error;
  const applyLabels = (e: FormEvent) => {
    e.preventDefault();
    if (!draftError) setParams({ labels: labelDraft.trim() || undefined });
  };
  const anyFilter = labelsText || group || tier || security || reboot || retired;

  const rows = endpoints.data?.endpoints.edges ?? [];
  return (
    <Page title="Fleet">
      <CompliancePanel groups={groupList} tiers={tiers} />

      <section aria-labelledby="endpoints-title">
        <h2 id="endpoints-title">Endpoints</h2>
        <form className="filters" role="search" aria-label="Endpoint filters" onSubmit={applyLabels}>
          <Field label="Label filter" hint="key=value, comma-separated; all must match" error={draftError}>
            {(p) => <input {...p} name="labels" value={labelDraft} onChange={(e) => setLabelDraft(e.target.value)} placeholder="env=prod, role=web" />}
          </Field>
          <button type="submit" className="btn btn-default" disabled={!!draftError}>
            Apply labels
          </button>
          <Field label="Reference group" {...(groups.data?.referenceGroups.pageInfo.hasNextPage ? { hint: 'the first 150 groups; filter by tier for the others' } : {})}>
            {(p) => (
              <select {...p} value={group} onChange={(e) => setParams({ group: e.target.value || undefined })}>
                <option value="">Any group</option>
                {groupList.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.name ? `${g.name} (${g.id})` : g.id}
                  </option>
                ))}
              </select>
            )}
          </Field>
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
          <Field label="Security updates">
            {(p) => (
              <select {...p} value={security ?? ''} onChange={(e) => setParams({ security: e.target.value || undefined })}>
                <option value="">Any</option>
                <option value="yes">Has security updates</option>
                <option value="no">No security updates</option>
              </select>
            )}
          </Field>
          <Field label="Reboot">
            {(p) => (
              <select {...p} value={reboot ?? ''} onChange={(e) => setParams({ reboot: e.target.value || undefined })}>
                <option value="">Any</option>
                <option value="yes">Reboot required</option>
                <option value="no">No reboot required</option>
              </select>
            )}
          </Field>
          <label className="check-field">
            <input type="checkbox" checked={retired} onChange={(e) => setParams({ retired: e.target.checked ? '1' : undefined })} /> Include retired
          </label>
          <Field label="Page size">
            {(p) => (
              <select {...p} value={size} onChange={(e) => setParams({ size: e.target.value === '50' ? undefined : e.target.value })}>
                {PAGE_SIZES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {anyFilter ? (
            <button type="button" className="btn btn-default" onClick={() => setParams({ labels: undefined, group: undefined, tier: undefined, security: undefined, reboot: undefined, retired: undefined })}>
              Clear filters
            </button>
          ) : null}
        </form>
        {parsedLabels.error ? <p className="field-error">The label filter in the address is ignored: {parsedLabels.error}.</p> : null}
        <ErrorMessage error={groups.error} title="Reference groups could not be loaded" />
        <ErrorMessage error={endpoints.error} title="Endpoints could not be loaded" />
        {endpoints.loading && !endpoints.data ? <Loading label="Loading endpoints" /> : null}
        {endpoints.data && rows.length === 0 ? <Empty>{anyFilter ? 'No endpoint matches these filters.' : 'No endpoints registered yet: import an inventory (patchbay inventory import).'}</Empty> : null}
        {rows.length > 0 ? (
          <div className="table-wrap">
            <table aria-busy={endpoints.loading}>
              <caption className="visually-hidden">Endpoints, page {pager.page}</caption>
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">OS</th>
                  <th scope="col">Pending updates</th>
                  <th scope="col">Reboot</th>
                  <th scope="col">Last cycle</th>
                  <th scope="col">Host key</th>
                  <th scope="col">Groups</th>
                  <th scope="col">Facts gathered</th>
                </tr>
              </thead>
              <tbody>
                {rows.map(({ node: e }) => (
                  <tr key={e.id}>
                    <th scope="row">
                      <Link to={`/fleet/${encodeURIComponent(e.id)}`}>{e.id}</Link> {e.retired ? <StatusBadge status="retired" /> : null}
                      <Labels labels={e.labels} label={`Labels of ${e.id}`} />
                    </th>
                    <td>{e.facts ? (e.facts.os.prettyName ?? `${e.facts.os.id} ${e.facts.os.versionId ?? ''}`) : <span className="muted">unknown</span>}{e.facts ? <div className="muted">{e.facts.packageManager}</div> : null}</td>
                    <td>
                      <UpdatesCell facts={e.facts} />
                    </td>
                    <td>{e.rebootRequired ? <span className="badge tone-warn">reboot required</span> : <span className="muted">no</span>}</td>
                    <td>{e.lastCycle ? <><Link to={`/cycles/${encodeURIComponent(e.lastCycle.cycleId)}`}>{e.lastCycle.cycleId}</Link> <StatusBadge status={e.lastCycle.state} /></> : <span className="muted">none</span>}</td>
                    <td>
                      <StatusBadge status={e.hostKey.state} />
                    </td>
                    <td>
                      {e.groupIds.length ? (
                        <ul className="inline-list">
                          {e.groupIds.map((g) => (
                            <li key={g}>
                              <Link to={`/groups/${encodeURIComponent(g)}`}>{g}</Link>
                            </li>
                          ))}
                        </ul>
                      ) : (
                        <span className="muted">none</span>
                      )}
                    </td>
                    <td>{e.facts ? <Time at={e.facts.gatheredAt} /> : <span className="muted">never</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {endpoints.data ? <Pager label="Endpoint" page={pager.page} hasNext={endpoints.data.endpoints.pageInfo.hasNextPage} onNext={() => pager.next(endpoints.data?.endpoints.pageInfo.endCursor)} onPrevious={pager.previous} /> : null}
      </section>
    </Page>
  );
}

type Facts = { updatesKnown: boolean; updateCount: number; securityUpdateCount: number; securityPackages: ReadonlyArray<{ name: string; to: string; severity?: string | null; advisory?: string | null }> } | null | undefined;

/** Counts, then the three most severe security updates (the detail page has them all). */
function UpdatesCell({ facts }: { facts: Facts }) {
  if (!facts) return <span className="muted">unknown (no facts)</span>;
  if (!facts.updatesKnown) return <span className="muted">not known</span>;
  if (facts.updateCount === 0) return <span className="muted">up to date</span>;
  const top = securityFirst(facts.securityPackages.map((p) => ({ ...p, security: true }))).slice(0, 3);
  return (
    <>
      <div>
        <strong>{facts.securityUpdateCount}</strong> security of {facts.updateCount}
      </div>
      {top.length ? (
        <ul className="inline-list">
          {top.map((p) => (
            <li key={p.name}>
              {p.name} <Severity severity={p.severity} />
              {p.advisory ? <span className="muted"> {p.advisory}</span> : null}
            </li>
          ))}
          {facts.securityPackages.length > top.length ? <li className="muted">+{facts.securityPackages.length - top.length} more</li> : null}
        </ul>
      ) : null}
    </>
  );
}
