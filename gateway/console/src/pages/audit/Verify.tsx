import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Button, ErrorMessage, Loading } from '../../ui/components';
import { useEffect, useState } from 'react';

const AuditVerifyDoc = graphql(`
  query AuditVerify($cycleId: ID!) {
    verifyCycle(cycleId: $cycleId) {
      ok
      streams {
        stream
        events
        ok
        headHash
      }
      firstBroken {
        stream
        revision
        eventId
        reason
      }
    }
  }
`);

/** Re-checks the hash chain of every stream of the cycle on the gateway; shows the first broken link. */
export function VerifyPanel({ cycleId }: { cycleId: string }) {
  const [asked, setAsked] = useState(false);
  const q = useQuery(AuditVerifyDoc, { cycleId }, { skip: !asked });
  useEffect(() => setAsked(false), [cycleId]);
  const v = q.data?.verifyCycle;
  return (
    <section aria-labelledby="verify-title" className="card">
      <h2 id="verify-title">Verify</h2>
      <p className="muted">Recomputes every event's hash and checks each links to the one before it, in the cycle's stream and in each endpoint run's.</p>
      <Button tone="primary" onClick={() => (asked ? void q.reload() : setAsked(true))} disabled={q.loading && asked}>
        Verify hash chain
      </Button>
      <div aria-live="polite">
        {asked && q.loading ? <Loading label="Verifying" /> : null}
        <ErrorMessage error={q.error} title="Verification could not run" />
        {asked && v && !q.loading ? (
          v.ok ? (
            <p className="verify-result">
              <span className="badge tone-good">intact</span> Every link holds: {v.streams.length} streams, {v.streams.reduce((n, s) => n + s.events, 0)} events.
            </p>
          ) : (
            <div className="error-box verify-result" role="alert">
              <strong>Broken chain.</strong>{' '}
              {v.firstBroken ? (
                <>
                  First broken link: stream <code>{v.firstBroken.stream}</code>, revision {v.firstBroken.revision}
                  {v.firstBroken.eventId ? (
                    <>
                      , event <code>{v.firstBroken.eventId}</code>
                    </>
                  ) : null}
                  : {v.firstBroken.reason}
                </>
              ) : (
                'The gateway did not name the first broken link.'
              )}
            </div>
          )
        ) : null}
      </div>
      {asked && v && !q.loading ? (
        <table>
          <caption>Streams verified</caption>
          <thead>
            <tr>
              <th scope="col">Stream</th>
              <th scope="col">Events</th>
              <th scope="col">Result</th>
              <th scope="col">Head hash</th>
            </tr>
          </thead>
          <tbody>
            {v.streams.map((s) => (
              <tr key={s.stream}>
                <th scope="row">
                  <code>{s.stream}</code>
                </th>
                <td>{s.events}</td>
                <td>{s.ok ? <span className="badge tone-good">intact</span> : <span className="badge tone-bad">broken</span>}</td>
                <td>
                  <code className="hash">{s.headHash ?? '—'}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
