import { Page, Empty } from '../ui/components';

export function GroupsPage({ groupId }: { groupId?: string | undefined }) {
  return (
    <Page title="Groups">
      <Empty>Not built yet. {groupId ?? ''}</Empty>
    </Page>
  );
}
