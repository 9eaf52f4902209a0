import { FleetList } from './fleet/FleetList';
import { EndpointDetail } from './fleet/EndpointDetail';

/** `/fleet`: endpoints and compliance; `/fleet/:endpointId`: one endpoint. */
export function FleetPage({ endpointId }: { endpointId?: string | undefined }) {
  return endpointId ? <EndpointDetail id={endpointId} /> : <FleetList />;
}
