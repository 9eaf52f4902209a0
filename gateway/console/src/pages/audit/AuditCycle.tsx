import { graphql } from '../../gql';
import { useQuery } from '../../api/hooks';
import { Link } from '../../app/router';
import { useSession } from '../../app/session';
import { ErrorMessage, Page, StatusBadge, Time } from '../../ui/components';
import { HistoryScrubber } from './History';
import { VerifyPanel } from './Verify';
import { ExportPanel } from './Export';
import { AuditorOnly } from './AuditorOnly';

const AuditCycleDoc = graphql(`
  query AuditCycle($id: ID!) {
    cycle(id: $id) {
      id
      kind
      policyId
      status
      requestedBy
      requestedAt
      finishedAt
    }
  }
`);

/** One cycle's audit: history and slider, verify, export (each shown only to a role that may run it). */
export function AuditCycle({ cycleId }: { cycleId: string }) {
  const { can } = useSession();
  const c = useQuery(AuditCycleDoc, { id: cycleId });
  const cycle = c.data?.cycle;
  const history = can('Query.cycleHistory') && can('Query.cycleAsOf');
  return (
    <Page title={`Audit of cycle ${cycleId}`}>
      <p>
        <Link to="/audit">← Pick another cycle</Link>
      </p>
      <ErrorMessage error={c.error} title="The cycle could not be loaded" />
      {cycle ? (
        <p>
          {cycle.kind} cycle of policy <Link to={`/policies/${encodeURIComponent(cycle.policyId)}`}>{cycle.policyId}</Link>, requested by {cycle.requestedBy} <Time at={cycle.requestedAt} />, now <StatusBadge status={cycle.status} />. <Link to={`/cycles/${encodeURIComponent(cycle.id)}`}>Open the live view</Link>.
        </p>
      ) : c.data ? (
        <p className="muted">The read model has no cycle {cycleId}; its history, if any, is still read from the event store below.</p>
      ) : null}
      {!history && !can('Query.verifyCycle') && !can('Query.cycleExport') ? (
        <AuditorOnly />
      ) : (
        <div className="audit-grid">
          {history ? <HistoryScrubber cycleId={cycleId} /> : <AuditorOnly what="the history and the slider" />}
          <div>
            {can('Query.verifyCycle') ? <VerifyPanel cycleId={cycleId} /> : null}
            {can('Query.cycleExport') && can('Query.auditPublicKey') ? <ExportPanel cycleId={cycleId} /> : null}
          </div>
        </div>
      )}
    </Page>
  );
}
