import { Page, Empty } from '../ui/components';

export function WorkflowsPage({ workflowId }: { workflowId?: string | undefined }) {
  return (
    <Page title="Workflows">
      <Empty>Not built yet. {workflowId ?? ''}</Empty>
    </Page>
  );
}
