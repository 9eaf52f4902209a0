import { useMemo, useState, type FormEvent } from 'react';
import { DEFAULT_SEVERITY_TIERS, emergencySpecSchema, formatIssuePath, type EmergencySpec } from '@patchbay/contracts';
import { graphql } from '../gql';
import type { EmergencyAffectedEndpointsQuery as EmergencyAffectedEndpointsResult, EmergencyAffectedUpdatesQuery as EmergencyAffectedUpdatesResult, EmergencyGroupTiersQuery as EmergencyGroupTiersResult } from '../gql/graphql';
import { ApiError, request } from '../api/client';
import { useMutation, useQuery } from '../api/hooks';
import { Link, useQueryParams, useRouter } from '../app/router';
import { useSession } from '../app/session';
import { Button, Empty, ErrorMessage, Field, Page } from '../ui/components';
import { PolicyChoicesQuery, PreviewCycleMutation } from './Cycles';
import { PlanPreview } from './cycles/PlanPreview';
import { waitForCycle } from './cycles/wait';
import './emergency/emergency.css';

const EmergencyAffectedUpdatesQuery = graphql(`
  query EmergencyAffectedUpdates($name: String!, $after: String) {
    pendingUpdates(filter: { name: $name, security: true }, first: 100, after: $after) {
      edges {
        node {
          endpointId
          name
          from
          to
          severity
          advisory
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const EmergencyAffectedEndpointsQuery = graphql(`
  query EmergencyAffectedEndpoints($after: String) {
    endpoints(filter: { hasSecurityUpdates: true }, first: 100, after: $after) {
      edges {
        node {
          id
          groupIds
          rebootRequired
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const EmergencyGroupTiersQuery = graphql(`
  query EmergencyGroupTiers($after: String) {
    referenceGroups(first: 100, after: $after) {
      edges {
        node {
          id
          tier
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const EmergencyCycleMutation = graphql(`
  mutation LaunchEmergencyCycle($policyId: String!, $emergency: JSON!) {
    emergencyCycle(policyId: $policyId, emergency: $emergency) {
      commandId
      id
      result
    }
  }
`);

interface Affected {
  endpointId: string;
  tier: string | null;
  groups: string[];
  inPolicy: boolean;
  rebootRequired: boolean;
  updates: Array<{ name: string; from: string | null; to: string; severity: string | null; advisory: string | null }>;
}

interface PolicyDef {
  groups?: string[];
  rollout?: { tierOrder?: string[] };
}

/** Every page of a connection (`first` as large as the gateway's cost limit allows). */
async function all<N>(fetchPage: (after: string | null) => Promise<{ edges: Array<{ node: N }>; pageInfo: { hasNextPage: boolean; endCursor?: string | null } }>): Promise<N[]> {
  const out: N[] = [];
  let after: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const p = await fetchPage(after);
    out.push(...p.edges.map((e) => e.node));
    if (!p.pageInfo.hasNextPage || !p.pageInfo.endCursor) break;
    after = p.pageInfo.endCursor;
  }
  return out;
}

const splitPackages = (text: string): string[] => [...new Set(text.split(/[\s,]+/).filter(Boolean))];

/** The endpoints with a pending security update of one of `packages`, in the policy's tier order. */
async function findAffected(packages: string[], policy: PolicyDef | undefined): Promise<Affected[]> {
  const updates = (await Promise.all(packages.map((name) => all(async (after) => (await request(EmergencyAffectedUpdatesQuery, { name, after }) as EmergencyAffectedUpdatesResult).pendingUpdates)))).flat();
  if (updates.length === 0) return [];
  const ids = new Set(updates.map((u) => u.endpointId));
  const [endpoints, groups] = await Promise.all([
    all(async (after) => (await request(EmergencyAffectedEndpointsQuery, { after }) as EmergencyAffectedEndpointsResult).endpoints),
    all(async (after) => (await request(EmergencyGroupTiersQuery, { after }) as EmergencyGroupTiersResult).referenceGroups),
  ]);
  const tierOf = new Map(groups.map((g) => [g.id, g.tier]));
  const order = policy?.rollout?.tierOrder ?? [...DEFAULT_SEVERITY_TIERS];
  const rank = (t: string | null) => (t === null ? order.length + 1 : order.includes(t) ? order.indexOf(t) : order.length);
  const scope = new Set(policy?.groups ?? []);
  const byId = new Map<string, Affected>();
  for (const e of endpoints) {
    if (!ids.has(e.id)) continue;
    const inScope = e.groupIds.filter((g) => scope.has(g));
    const candidates = (inScope.length ? inScope : e.groupIds).map((g) => tierOf.get(g) ?? null);
    const tier = candidates.sort((a, b) => rank(a) - rank(b))[0] ?? null;
    byId.set(e.id, { endpointId: e.id, tier, groups: e.groupIds, inPolicy: inScope.length > 0, rebootRequired: e.rebootRequired, updates: [] });
  }
  for (const u of updates) {
    const a = byId.get(u.endpointId) ?? { endpointId: u.endpointId, tier: null, groups: [], inPolicy: false, rebootRequired: false, updates: [] };
    a.updates.push({ name: u.name, from: u.from ?? null, to: u.to, severity: u.severity ?? null, advisory: u.advisory ?? null });
    byId.set(u.endpointId, a);
  }
  return [...byId.values()].sort((a, b) => Number(b.inPolicy) - Number(a.inPolicy) || rank(a.tier) - rank(b.tier) || a.endpointId.localeCompare(b.endpointId));
}

const SHOWN = 200;

export function EmergencyPage() {
  const { can } = useSession();
  const { navigate } = useRouter();
  const policies = useQuery(PolicyChoicesQuery, {});
  // A link may carry the advisory, its packages and the policy (`?advisory=CVE-…&packages=openssl,libssl3&policy=…`).
  const [query] = useQueryParams();
  const [advisoryId, setAdvisoryId] = useState(() => query.get('advisory') ?? '');
  const [title, setTitle] = useState('');
  const [packagesText, setPackagesText] = useState(() => (query.get('packages') ?? '').split(',').join(' '));
  const [policyId, setPolicyId] = useState(() => query.get('policy') ?? '');
  const [targetKind, setTargetKind] = useState<'vulnerable' | 'groups'>('vulnerable');
  const [groups, setGroups] = useState<string[]>([]);
  const [skipWindow, setSkipWindow] = useState(true);
  const [ignoreConcurrency, setIgnoreConcurrency] = useState(false);
  const [ignoreDisruptionBudget, setIgnoreDisruptionBudget] = useState(false);
  const [affected, setAffected] = useState<Affected[]>();
  const [searching, setSearching] = useState(false);
  const [searchError, setSearchError] = useState<ApiError>();
  const [launching, setLaunching] = useState(false);
  const [touched, setTouched] = useState(false);
  const preview = useMutation(PreviewCycleMutation);
  const launch = useMutation(EmergencyCycleMutation);

  const policyList = policies.data?.policies.edges.map((e) => e.node) ?? [];
  const policy = policyList.find((p) => p.id === policyId);
  const def = policy?.definition as PolicyDef | undefined;
  const packages = splitPackages(packagesText);

  const spec: EmergencySpec | Record<string, unknown> = {
    advisoryId: advisoryId.trim(),
    ...(title.trim() ? { title: title.trim() } : {}),
    packages,
    target: targetKind === 'vulnerable' ? { kind: 'vulnerable' } : { kind: 'groups', groups },
    skipWindow,
    ignoreConcurrency,
    ignoreDisruptionBudget,
  };
  const specKey = JSON.stringify(spec);
  const check = useMemo(() => emergencySpecSchema.safeParse(JSON.parse(specKey)), [specKey]);
  const issues = check.success ? [] : check.error.issues.map((i) => ({ path: formatIssuePath(i.path), message: i.message }));
  const issue = (prefix: string) => {
    const list = issues.filter((i) => i.path === prefix || i.path.startsWith(`${prefix}[`) || i.path.startsWith(`${prefix}.`));
    return touched && list.length ? list.map((i) => i.message).join('; ') : undefined;
  };
  const ready = check.success && policyId !== '';
  const changed = () => preview.reset();

  const find = async (e?: FormEvent) => {
    e?.preventDefault();
    setTouched(true);
    if (packages.length === 0) return;
    setSearching(true);
    setSearchError(undefined);
    try {
      setAffected(await findAffected(packages, def));
    } catch (err) {
      setSearchError(err instanceof ApiError ? err : new ApiError(String(err), 'INTERNAL'));
    } finally {
      setSearching(false);
    }
  };

  const doPreview = () => {
    setTouched(true);
    if (ready) void preview.run({ policyId, emergency: spec });
  };
  const doLaunch = async () => {
    setTouched(true);
    if (!ready) return;
    const r = await launch.run({ policyId, emergency: spec });
    const id = r?.emergencyCycle.id ?? (r?.emergencyCycle.result as { cycleId?: string } | null)?.cycleId;
    if (!id) return;
    setLaunching(true);
    await waitForCycle(id);
    navigate(`/cycles/${encodeURIComponent(id)}`);
  };

  const canLaunch = can('Mutation.emergencyCycle');
  const inPolicy = affected?.filter((a) => a.inPolicy) ?? [];

  return (
    <Page title="Emergency">
      <p className="lead">An advisory or CVE and the packages that fix it: see the affected endpoints, preview the plan, launch the cycle.</p>
      <form className="card em-form" onSubmit={(e) => void find(e)} noValidate>
        <div className="grid">
          <Field label="Advisory or CVE id" error={issue('advisoryId')} hint="CVE-2024-3094, DSA-5678-1, USN-6543-1, RHSA-2024:1234 …">
            {(p) => (
              <input
                {...p}
                type="text"
                value={advisoryId}
                autoComplete="off"
                onChange={(e) => {
                  setAdvisoryId(e.target.value);
                  changed();
                }}
              />
            )}
          </Field>
          <Field label="Title" hint="Optional.">
            {(p) => (
              <input
                {...p}
                type="text"
                value={title}
                onChange={(e) => {
                  setTitle(e.target.value);
                  changed();
                }}
              />
            )}
          </Field>
          <Field label="Fixing packages" error={issue('packages')} hint="Package names, separated by spaces, commas or lines.">
            {(p) => (
              <input
                {...p}
                type="text"
                value={packagesText}
                autoComplete="off"
                onChange={(e) => {
                  setPackagesText(e.target.value);
                  setAffected(undefined);
                  changed();
                }}
              />
            )}
          </Field>
          <Field label="Policy" error={touched && !policyId ? 'Choose the policy whose workflow and groups the cycle uses.' : undefined}>
            {(p) => (
              <select
                {...p}
                value={policyId}
                onChange={(e) => {
                  setPolicyId(e.target.value);
                  setGroups([]);
                  setAffected(undefined);
                  changed();
                }}
              >
                <option value="">Choose a policy</option>
                {policyList.map((x) => (
                  <option key={x.id} value={x.id}>
                    {x.id}
                    {x.name ? ` — ${x.name}` : ''}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <ErrorMessage error={policies.error} />
        <Button type="submit" tone={canLaunch ? 'default' : 'primary'} disabled={searching || packages.length === 0}>
          {searching ? 'Searching…' : 'Find affected endpoints'}
        </Button>
      </form>
      <ErrorMessage error={searchError} title="Search failed" />

      {affected ? (
        <section className="card" aria-labelledby="affected-title">
          <h2 id="affected-title">
            Affected endpoints: {affected.length}
            {policy ? ` (${inPolicy.length} in ${policy.id}'s groups)` : ''}
          </h2>
          {affected.length === 0 ? (
            <Empty>No endpoint has a pending security update of {packages.join(', ')}.</Empty>
          ) : (
            <>
              <table>
                <caption className="visually-hidden">Affected endpoints in tier order</caption>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Endpoint</th>
                    <th scope="col">Tier</th>
                    <th scope="col">Groups</th>
                    <th scope="col">Pending fix</th>
                    <th scope="col">Reboot required</th>
                  </tr>
                </thead>
                <tbody>
                  {affected.slice(0, SHOWN).map((a, i) => (
                    <tr key={a.endpointId} className={a.inPolicy ? '' : 'em-out'}>
                      <td>{i + 1}</td>
                      <th scope="row">
                        <Link to={`/fleet/${encodeURIComponent(a.endpointId)}`}>{a.endpointId}</Link>
                        {policy && !a.inPolicy ? <span className="muted"> (outside the policy)</span> : null}
                      </th>
                      <td>{a.tier ?? '—'}</td>
                      <td>{a.groups.join(', ') || '—'}</td>
                      <td>
                        {a.updates.map((u) => (
                          <div key={u.name}>
                            <code>{u.name}</code> {u.from ?? '?'} → {u.to}
                            {u.severity ? ` (${u.severity})` : ''}
                            {u.advisory ? ` ${u.advisory}` : ''}
                          </div>
                        ))}
                      </td>
                      <td>{a.rebootRequired ? 'yes' : 'no'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {affected.length > SHOWN ? <p className="muted">and {affected.length - SHOWN} more (the plan preview lists them all by wave).</p> : null}
            </>
          )}
        </section>
      ) : null}

      {canLaunch ? (
        <section className="card" aria-labelledby="launch-title">
          <h2 id="launch-title">Launch</h2>
          <fieldset className="em-target">
            <legend>Target</legend>
            <label className="em-choice">
              <input
                type="radio"
                name="target"
                checked={targetKind === 'vulnerable'}
                onChange={() => {
                  setTargetKind('vulnerable');
                  changed();
                }}
              />{' '}
              Every endpoint with a pending update of these packages (in the policy's groups)
            </label>
            <label className="em-choice">
              <input
                type="radio"
                name="target"
                checked={targetKind === 'groups'}
                onChange={() => {
                  setTargetKind('groups');
                  changed();
                }}
              />{' '}
              Only these reference groups
            </label>
            {targetKind === 'groups' ? (
              <div className="em-groups" role="group" aria-label="Reference groups to patch">
                {(def?.groups ?? []).map((g) => (
                  <label key={g} className="em-choice">
                    <input
                      type="checkbox"
                      checked={groups.includes(g)}
                      onChange={(e) => {
                        setGroups(e.target.checked ? [...groups, g] : groups.filter((x) => x !== g));
                        changed();
                      }}
                    />{' '}
                    {g}
                  </label>
                ))}
                {!def ? <p className="muted">Choose a policy first.</p> : null}
                {issue('target') ? (
                  <small className="field-error" role="alert">
                    {issue('target')}
                  </small>
                ) : null}
              </div>
            ) : null}
          </fieldset>
          <fieldset className="em-target">
            <legend>Overrides</legend>
            <label className="em-choice">
              <input type="checkbox" checked={skipWindow} onChange={(e) => (setSkipWindow(e.target.checked), changed())} /> Start now, outside maintenance windows
            </label>
            <label className="em-choice">
              <input type="checkbox" checked={ignoreConcurrency} onChange={(e) => (setIgnoreConcurrency(e.target.checked), changed())} /> Ignore the policy's concurrency limit
            </label>
            <label className="em-choice">
              <input type="checkbox" checked={ignoreDisruptionBudget} onChange={(e) => (setIgnoreDisruptionBudget(e.target.checked), changed())} /> Ignore the disruption budget
            </label>
          </fieldset>
          <div className="page-actions">
            <Button onClick={doPreview} disabled={preview.running}>
              {preview.running ? 'Planning…' : 'Preview emergency plan'}
            </Button>
            <Button tone="danger" onClick={() => void doLaunch()} disabled={!preview.result || launch.running || launching}>
              {launch.running || launching ? 'Launching…' : 'Launch emergency cycle'}
            </Button>
          </div>
          {!preview.result ? <p className="hint">Preview the plan first; launching plans the cycle the same way.</p> : null}
          {touched && !ready ? (
            <p className="field-error" role="alert">
              Fix the fields marked above first.
            </p>
          ) : null}
          <ErrorMessage error={preview.error} title="No plan" />
          <ErrorMessage error={launch.error} title="Not launched" />
        </section>
      ) : (
        <p className="muted">Your role can look up affected endpoints; launching an emergency cycle needs the operator role.</p>
      )}
      {preview.result ? <PlanPreview reply={preview.result.previewCycle.result} /> : null}
    </Page>
  );
}
