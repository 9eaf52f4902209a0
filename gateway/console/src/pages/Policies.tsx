import { Page, Empty } from '../ui/components';

export function PoliciesPage({ policyId }: { policyId?: string | undefined }) {
  return (
    <Page title="Policies">
      <Empty>Not built yet. {policyId ?? ''}</Empty>
    </Page>
  );
}
