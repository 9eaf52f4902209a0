import { Page, Empty } from '../ui/components';

export function EmergencyPage() {
  return (
    <Page title="Emergency">
      <Empty>Not built yet.</Empty>
    </Page>
  );
}
