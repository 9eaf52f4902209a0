import { GroupsList } from './groups/GroupsList';
import { GroupDetail } from './groups/GroupDetail';

/** `/groups`: every reference group; `/groups/:groupId`: one group, its members and why. */
export function GroupsPage({ groupId }: { groupId?: string | undefined }) {
  return groupId ? <GroupDetail id={groupId} /> : <GroupsList />;
}
