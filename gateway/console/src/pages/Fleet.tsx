import { Page, Empty } from '../ui/components';

export function FleetPage({ endpointId }: { endpointId?: string | undefined }) {
  return (
    <Page title="Fleet">
      <Empty>Not built yet. {endpointId ?? ''}</Empty>
    </Page>
  );
}
