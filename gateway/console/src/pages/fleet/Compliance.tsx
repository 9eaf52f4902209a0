import { useEffect, useState } from 'react';
import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Link, useQueryParams } from '../../app/router';
import { Button, Empty, ErrorMessage, Field, Loading } from '../../ui/components';
import { Severity, securityFirst } from './updates';

const ComplianceCountsQuery = graphql(`
  query ComplianceCounts($groupId: ID, $tier: String) {
    compliance(groupId: $groupId, tier: $tier) {
      endpoints
      compliant
      unknown
    }
  }
`);

const ComplianceGapsQuery = graphql(`
  query ComplianceGaps($groupId: ID, $tier: String) {
    compliance(groupId: $groupId, tier: $tier) {
      groupId
      tier
      endpoints
      compliant
      unknown
      gaps {
        endpointId
        groupIds
        missing {
          name
          to
          severity
          advisory
        }
      }
    }
  }
`);

const GAPS_PER_PAGE = 50;

export type Scope = { groupId: string } | { tier: string };
const scopeVars = (s: Scope) => ('groupId' in s ? { groupId: s.groupId } : { tier: s.tier });

/** Compliant / total / unknown for one scope, in one row of a table. */
function CountsRow({ scope, label, onShow }: { scope: Scope; label: string; onShow(): void }) {
  const q = useQuery(ComplianceCountsQuery, scopeVars(scope));
  const c = q.data?.compliance;
  return (
    <tr>
      <th scope="row">{label}</th>
      {q.error ? (
        <td colSpan={3}>
          <ErrorMessage error={q.error} />
        </td>
      ) : c ? (
        <>
          <td>
            {c.compliant} / {c.endpoints}
          </td>
          <td>{c.endpoints - c.compliant - c.unknown}</td>
          <td>{c.unknown}</td>
        </>
      ) : (
        <td colSpan={3}>
          <Loading label="Counting" />
        </td>
      )}
      <td>
        <Button onClick={onShow} aria-label={`Show gaps of ${label}`}>
          Show gaps
        </Button>
      </td>
    </tr>
  );
}

/** Which endpoints lack which security updates, for one group or tier (gaps paged in the browser). */
export function ComplianceGaps({ scope, title }: { scope: Scope; title: string }) {
  const q = useQuery(ComplianceGapsQuery, scopeVars(scope));
  const [page, setPage] = useState(0);
  useEffect(() => setPage(0), [JSON.stringify(scope)]);
  const c = q.data?.compliance;
  if (q.error) return <ErrorMessage error={q.error} title="Compliance could not be computed" />;
  if (!c) return <Loading label="Computing compliance" />;
  const pages = Math.max(1, Math.ceil(c.gaps.length / GAPS_PER_PAGE));
  const shown = c.gaps.slice(page * GAPS_PER_PAGE, (page + 1) * GAPS_PER_PAGE);
  const pct = c.endpoints ? Math.round((c.compliant / c.endpoints) * 100) : 100;
  return (
    <div>
      <div className="stats" role="group" aria-label={`Compliance of ${title}`}>
        <div className="stat">
          <strong>
            {c.compliant} / {c.endpoints}
          </strong>
          compliant ({pct}%)
        </div>
        <div className="stat">
          <strong>{c.gaps.length}</strong>
          missing security updates
        </div>
        <div className="stat">
          <strong>{c.unknown}</strong>
          unknown (no facts yet)
        </div>
      </div>
      {c.endpoints === 0 ? <Empty>No active endpoint is in {title}.</Empty> : c.gaps.length === 0 ? <Empty>No endpoint of {title} lacks a security update{c.unknown ? ` (${c.unknown} not known yet)` : ''}.</Empty> : null}
      {shown.length > 0 ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Security updates missing in {title}</caption>
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Missing security updates</th>
                  <th scope="col">Groups</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((g) => (
                  <tr key={g.endpointId}>
                    <th scope="row">
                      <Link to={`/fleet/${encodeURIComponent(g.endpointId)}`}>{g.endpointId}</Link>
                    </th>
                    <td>
                      <ul className="inline-list">
                        {securityFirst(g.missing).map((m) => (
                          <li key={m.name}>
                            <code>{m.name}</code> → {m.to} <Severity severity={m.severity} /> {m.advisory ? <span className="muted">{m.advisory}</span> : null}
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td>{g.groupIds.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pages > 1 ? (
            <nav className="pager" aria-label="Compliance gap pages">
              <Button onClick={() => setPage((p) => p - 1)} disabled={page === 0}>
                Previous
              </Button>
              <span aria-live="polite">
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

const parseScope = (v: string | null): Scope | undefined => (v?.startsWith('tier:') ? { tier: v.slice(5) } : v?.startsWith('group:') ? { groupId: v.slice(6) } : undefined);
const scopeKey = (s: Scope) => ('groupId' in s ? `group:${s.groupId}` : `tier:${s.tier}`);
const scopeTitle = (s: Scope) => ('groupId' in s ? `group ${s.groupId}` : `tier ${s.tier}`);

/** Compliance per tier (a row each) and the gaps of the scope chosen (kept in the URL as `compliance`). */
export function CompliancePanel({ groups, tiers }: { groups: ReadonlyArray<{ id: string; name?: string | null; tier: string }>; tiers: readonly string[] }) {
  const [params, setParams] = useQueryParams();
  const chosen = parseScope(params.get('compliance')) ?? (tiers[0] ? { tier: tiers[0] } : undefined);
  const choose = (s: Scope) => setParams({ compliance: scopeKey(s) });
  return (
    <section aria-labelledby="compliance-title" className="card">
      <h2 id="compliance-title">Compliance</h2>
      {tiers.length === 0 ? (
        <Empty>No reference groups yet, so there is nothing to be compliant with.</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Compliance per tier</caption>
              <thead>
                <tr>
                  <th scope="col">Tier</th>
                  <th scope="col">Compliant / total</th>
                  <th scope="col">Missing security updates</th>
                  <th scope="col">Unknown</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tiers.map((t) => (
                  <CountsRow key={t} scope={{ tier: t }} label={`Tier ${t}`} onShow={() => choose({ tier: t })} />
                ))}
              </tbody>
            </table>
          </div>
          <div className="filters">
            <Field label="Compliance scope">
              {(p) => (
                <select {...p} value={chosen ? scopeKey(chosen) : ''} onChange={(e) => setParams({ compliance: e.target.value || undefined })}>
                  <optgroup label="Tiers">
                    {tiers.map((t) => (
                      <option key={t} value={`tier:${t}`}>
                        Tier {t}
                      </option>
                    ))}
                  </optgroup>
                  <optgroup label="Reference groups">
                    {groups.map((g) => (
                      <option key={g.id} value={`group:${g.id}`}>
                        Group {g.name ? `${g.name} (${g.id})` : g.id}
                      </option>
                    ))}
                  </optgroup>
                </select>
              )}
            </Field>
          </div>
          {chosen ? (
            <>
              <h3>Gaps in {scopeTitle(chosen)}</h3>
              <ComplianceGaps scope={chosen} title={scopeTitle(chosen)} />
            </>
          ) : null}
        </>
      )}
    </section>
  );
}
