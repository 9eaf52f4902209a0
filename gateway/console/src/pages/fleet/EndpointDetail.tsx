import { useState, type FormEvent } from 'react';
import { graphql } from '../../gql';
import { useMutation, useQuery } from '../../api/hooks';
import { Link } from '../../app/router';
import { useSession } from '../../app/session';
import { Button, Empty, ErrorMessage, Field, Loading, Page, StatusBadge, Time } from '../../ui/components';
import { Labels, Severity, securityFirst } from './updates';
import './fleet.css';

const FleetEndpointQuery = graphql(`
  query FleetEndpoint($id: ID!) {
    endpoint(id: $id) {
      id
      source
      retired
      labels {
        key
        value
      }
      ssh {
        host
        port
        user
        sudo
        keyRef
      }
      hostKey {
        state
        algorithm
        fingerprint
        pinnedFingerprint
        decidedBy
        at
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
        rebootRequired
      }
      lastFactsError {
        code
        message
        at
      }
      hasSecurityUpdates
      rebootRequired
      groupIds
      lastCycle {
        cycleId
        state
        at
      }
      pendingUpdates {
        name
        from
        to
        arch
        origin
        security
        severity
        advisory
      }
    }
  }
`);

const GatherFactsMutation = graphql(`
  mutation FleetGatherFacts($ids: [ID!]) {
    gatherFacts(endpointIds: $ids, refresh: true, wait: true) {
      commandId
      result
    }
  }
`);

const AcceptHostKeyMutation = graphql(`
  mutation FleetAcceptHostKey($endpointId: ID!, $fingerprint: String!, $reason: String!) {
    acceptHostKey(endpointId: $endpointId, fingerprint: $fingerprint, reason: $reason) {
      commandId
    }
  }
`);

/** One endpoint: facts, pending updates (security first), last facts error, SSH identity (no secrets), groups. */
export function EndpointDetail({ id }: { id: string }) {
  const q = useQuery(FleetEndpointQuery, { id });
  const { can } = useSession();
  const gather = useMutation(GatherFactsMutation);
  const e = q.data?.endpoint;

  const actions =
    e && can('Mutation.gatherFacts') && !e.retired ? (
      <Button tone="primary" disabled={gather.running} onClick={async () => (await gather.run({ ids: [id] })) && (await q.reload())}>
        {gather.running ? 'Gathering facts…' : 'Gather facts now'}
      </Button>
    ) : undefined;

  return (
    <Page title={`Endpoint ${id}`} actions={actions}>
      <p>
        <Link to="/fleet">← All endpoints</Link>
      </p>
      <ErrorMessage error={gather.error} title="Gathering facts failed" />
      {gather.result && !gather.running ? <p role="status">Facts gathered again.</p> : null}
      <ErrorMessage error={q.error} title="The endpoint could not be loaded" />
      {q.loading && !q.data ? <Loading label="Loading the endpoint" /> : null}
      {q.data && !e ? <Empty>No endpoint {id} is registered.</Empty> : null}
      {e ? (
        <>
          <div className="grid">
            <section className="card" aria-labelledby="facts-title">
              <h2 id="facts-title">Facts</h2>
              {e.facts ? (
                <dl className="kv">
                  <dt>OS</dt>
                  <dd>{e.facts.os.prettyName ?? `${e.facts.os.id} ${e.facts.os.versionId ?? ''}`}</dd>
                  <dt>Package manager</dt>
                  <dd>{e.facts.packageManager}</dd>
                  <dt>Gathered at</dt>
                  <dd>
                    <Time at={e.facts.gatheredAt} />
                  </dd>
                  <dt>Updates</dt>
                  <dd>{e.facts.updatesKnown ? `${e.facts.securityUpdateCount} security of ${e.facts.updateCount} pending` : 'not known'}</dd>
                  <dt>Reboot</dt>
                  <dd>{e.rebootRequired ? <span className="badge tone-warn">reboot required</span> : 'not required'}</dd>
                  <dt>Status</dt>
                  <dd>{e.retired ? <StatusBadge status="retired" /> : 'active'}</dd>
                  <dt>Registered from</dt>
                  <dd>{e.source ?? <span className="muted">unknown</span>}</dd>
                </dl>
              ) : (
                <Empty>No facts gathered yet.</Empty>
              )}
              <h3>Last facts error</h3>
              {e.lastFactsError ? (
                <div className="error-box" data-code={e.lastFactsError.code}>
                  {e.lastFactsError.message} <code className="code">{e.lastFactsError.code}</code> <Time at={e.lastFactsError.at} />
                </div>
              ) : (
                <p className="muted">None.</p>
              )}
            </section>
            <section className="card" aria-labelledby="ssh-title">
              <h2 id="ssh-title">SSH identity</h2>
              {e.ssh ? (
                <dl className="kv">
                  <dt>Host</dt>
                  <dd>
                    <code>{e.ssh.host}</code>
                  </dd>
                  <dt>Port</dt>
                  <dd>{e.ssh.port}</dd>
                  <dt>User</dt>
                  <dd>
                    <code>{e.ssh.user}</code> {e.ssh.sudo ? '(with sudo)' : ''}
                  </dd>
                  <dt>Key</dt>
                  <dd>{e.ssh.keyRef ? <code>{e.ssh.keyRef}</code> : <span className="muted">the controller's default</span>} <small className="muted">(a reference only; keys never leave the controller)</small></dd>
                </dl>
              ) : (
                <Empty>No SSH identity recorded.</Empty>
              )}
              <h3>Host key</h3>
              <dl className="kv">
                <dt>State</dt>
                <dd>
                  <StatusBadge status={e.hostKey.state} />
                </dd>
                {e.hostKey.algorithm ? (
                  <>
                    <dt>Algorithm</dt>
                    <dd>{e.hostKey.algorithm}</dd>
                  </>
                ) : null}
                {e.hostKey.fingerprint ? (
                  <>
                    <dt>{e.hostKey.state === 'pinned' ? 'Fingerprint' : 'Presented fingerprint'}</dt>
                    <dd>
                      <code>{e.hostKey.fingerprint}</code>
                    </dd>
                  </>
                ) : null}
                {e.hostKey.pinnedFingerprint && e.hostKey.pinnedFingerprint !== e.hostKey.fingerprint ? (
                  <>
                    <dt>Pinned fingerprint</dt>
                    <dd>
                      <code>{e.hostKey.pinnedFingerprint}</code>
                    </dd>
                  </>
                ) : null}
                {e.hostKey.decidedBy ? (
                  <>
                    <dt>Decided by</dt>
                    <dd>
                      {e.hostKey.decidedBy} <Time at={e.hostKey.at} />
                    </dd>
                  </>
                ) : null}
              </dl>
              {(e.hostKey.state === 'pending' || e.hostKey.state === 'mismatch') && can('Mutation.acceptHostKey') ? <AcceptHostKey endpointId={e.id} state={e.hostKey.state} onDone={q.reload} /> : null}
            </section>
            <section className="card" aria-labelledby="membership-title">
              <h2 id="membership-title">Labels and groups</h2>
              <h3>Labels</h3>
              <Labels labels={e.labels} label={`Labels of ${e.id}`} />
              <h3>Reference groups</h3>
              {e.groupIds.length ? (
                <ul>
                  {e.groupIds.map((g) => (
                    <li key={g}>
                      <Link to={`/groups/${encodeURIComponent(g)}?endpoint=${encodeURIComponent(e.id)}`}>{g}</Link>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted">In no reference group.</p>
              )}
              <h3>Last cycle</h3>
              {e.lastCycle ? (
                <p>
                  <Link to={`/cycles/${encodeURIComponent(e.lastCycle.cycleId)}`}>{e.lastCycle.cycleId}</Link> <StatusBadge status={e.lastCycle.state} /> <Time at={e.lastCycle.at} />
                </p>
              ) : (
                <p className="muted">Never patched by a cycle.</p>
              )}
            </section>
          </div>
          <section aria-labelledby="updates-title">
            <h2 id="updates-title">Pending updates</h2>
            {e.pendingUpdates.length === 0 ? (
              <Empty>{e.facts?.updatesKnown ? 'No pending updates.' : 'Pending updates are not known yet.'}</Empty>
            ) : (
              <div className="table-wrap">
                <table>
                  <caption className="visually-hidden">Pending updates of {e.id}, security first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Package</th>
                      <th scope="col">Security</th>
                      <th scope="col">Severity</th>
                      <th scope="col">Advisory</th>
                      <th scope="col">From</th>
                      <th scope="col">To</th>
                      <th scope="col">Arch</th>
                      <th scope="col">Origin</th>
                    </tr>
                  </thead>
                  <tbody>
                    {securityFirst(e.pendingUpdates).map((u) => (
                      <tr key={`${u.name}:${u.arch ?? ''}`}>
                        <th scope="row">
                          <code>{u.name}</code>
                        </th>
                        <td>{u.security ? <span className="badge tone-bad">security</span> : <span className="muted">no</span>}</td>
                        <td>{u.security || u.severity ? <Severity severity={u.severity} /> : <span className="muted">—</span>}</td>
                        <td>{u.advisory ?? <span className="muted">—</span>}</td>
                        <td>
                          <code>{u.from ?? '—'}</code>
                        </td>
                        <td>
                          <code>{u.to}</code>
                        </td>
                        <td>{u.arch ?? '—'}</td>
                        <td>{u.origin ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      ) : null}
    </Page>
  );
}

/** Pins a pending or mismatching host key: the operator types the fingerprint verified out of band. */
function AcceptHostKey({ endpointId, state, onDone }: { endpointId: string; state: string; onDone(): Promise<void> }) {
  const accept = useMutation(AcceptHostKeyMutation);
  const [fingerprint, setFingerprint] = useState('');
  const [reason, setReason] = useState('');
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    if ((await accept.run({ endpointId, fingerprint: fingerprint.trim(), reason: reason.trim() })) !== undefined) await onDone();
  };
  const fieldError = (name: string) => accept.error?.issues.find((i) => i.path === name)?.message;
  return (
    <form onSubmit={submit} aria-labelledby="accept-key-title">
      <h3 id="accept-key-title">Accept host key</h3>
      <p className="muted">{state === 'mismatch' ? 'The host presents a key other than the pinned one.' : 'No key is pinned yet.'} Compare the fingerprint with the host's console before accepting it.</p>
      <Field label="Verified fingerprint" error={fieldError('fingerprint')}>
        {(p) => <input {...p} value={fingerprint} onChange={(ev) => setFingerprint(ev.target.value)} placeholder="SHA256:…" spellCheck={false} required />}
      </Field>
      <Field label="Reason" error={fieldError('reason')}>
        {(p) => <input {...p} value={reason} onChange={(ev) => setReason(ev.target.value)} required />}
      </Field>
      <ErrorMessage error={accept.error} title="The host key was not accepted" />
      <button type="submit" className="btn btn-danger" disabled={accept.running || !fingerprint.trim() || !reason.trim()}>
        Accept host key
      </button>
    </form>
  );
}
