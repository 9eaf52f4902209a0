import { Page, Empty } from '../ui/components';

export function AuditPage({ cycleId }: { cycleId?: string | undefined }) {
  return (
    <Page title="Audit">
      <Empty>Not built yet. {cycleId ?? ''}</Empty>
    </Page>
  );
}
