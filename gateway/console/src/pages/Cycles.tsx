import { Page, Empty } from '../ui/components';

export function CyclesPage({ cycleId }: { cycleId?: string | undefined }) {
  return (
    <Page title="Cycles">
      <Empty>Not built yet. {cycleId ?? ''}</Empty>
    </Page>
  );
}
