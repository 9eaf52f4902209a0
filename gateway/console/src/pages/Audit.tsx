import { useSession } from '../app/session';
import { Page } from '../ui/components';
import { AuditCycle } from './audit/AuditCycle';
import { AuditCyclePicker } from './audit/AuditCyclePicker';
import { AuditorOnly } from './audit/AuditorOnly';
import './fleet/fleet.css';
import './audit/audit.css';

/** `/audit`: pick a cycle; `/audit/:cycleId`: its history, the cycle as of any event, verify, export. */
export function AuditPage({ cycleId }: { cycleId?: string | undefined }) {
  const { can } = useSession();
  if (cycleId) return <AuditCycle cycleId={cycleId} />;
  return <Page title="Audit">{can('Query.cycleHistory') || can('Query.verifyCycle') || can('Query.cycleExport') ? <AuditCyclePicker /> : <AuditorOnly />}</Page>;
}
