import { Link } from '../../app/router';
import { useSession } from '../../app/session';

/** Why the audit tools are not shown: they are for the auditor role. */
export function AuditorOnly({ what = 'a cycle’s history, its verification and its signed export' }: { what?: string }) {
  const { me } = useSession();
  return (
    <div className="card" role="note" aria-labelledby="auditor-only-title">
      <h2 id="auditor-only-title">For auditors</h2>
      <p>
        Reading {what} takes the <strong>auditor</strong> role; this token has {me?.roles.length ? me.roles.join(', ') : 'no role'}. Ask an administrator for an auditor token. The cycles
        themselves, live, are on the <Link to="/cycles">Cycles</Link> page.
      </p>
    </div>
  );
}
