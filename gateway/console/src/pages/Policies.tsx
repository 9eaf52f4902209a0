import { PoliciesList } from './policies/PoliciesList';
import { PolicyDetail } from './policies/PolicyDetail';

/** `/policies`: every patch policy; `/policies/:policyId`: one policy in detail. */
export function PoliciesPage({ policyId }: { policyId?: string | undefined }) {
  return policyId ? <PolicyDetail id={policyId} /> : <PoliciesList />;
}
