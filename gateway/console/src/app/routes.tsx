import type { ReactNode } from 'react';
import { FleetPage } from '../pages/Fleet';
import { GroupsPage } from '../pages/Groups';
import { WorkflowsPage } from '../pages/Workflows';
import { PoliciesPage } from '../pages/Policies';
import { CyclesPage } from '../pages/Cycles';
import { EmergencyPage } from '../pages/Emergency';
import { AuditPage } from '../pages/Audit';

export interface Route {
  path: string;
  render(params: Record<string, string>): ReactNode;
}

/** Every page; `:name` segments become parameters. The first match wins. */
export const ROUTES: Route[] = [
  { path: '/', render: () => <FleetPage /> },
  { path: '/fleet', render: () => <FleetPage /> },
  { path: '/fleet/:endpointId', render: (p) => <FleetPage endpointId={p['endpointId']} /> },
  { path: '/groups', render: () => <GroupsPage /> },
  { path: '/groups/:groupId', render: (p) => <GroupsPage groupId={p['groupId']} /> },
  { path: '/workflows', render: () => <WorkflowsPage /> },
  { path: '/workflows/:workflowId', render: (p) => <WorkflowsPage workflowId={p['workflowId']} /> },
  { path: '/policies', render: () => <PoliciesPage /> },
  { path: '/policies/:policyId', render: (p) => <PoliciesPage policyId={p['policyId']} /> },
  { path: '/cycles', render: () => <CyclesPage /> },
  { path: '/cycles/:cycleId', render: (p) => <CyclesPage cycleId={p['cycleId']} /> },
  { path: '/emergency', render: () => <EmergencyPage /> },
  { path: '/audit', render: () => <AuditPage /> },
  { path: '/audit/:cycleId', render: (p) => <AuditPage cycleId={p['cycleId']} /> },
];

export const NAV: Array<{ to: string; label: string }> = [
  { to: '/fleet', label: 'Fleet' },
  { to: '/groups', label: 'Reference groups' },
  { to: '/workflows', label: 'Workflows' },
  { to: '/policies', label: 'Policies' },
  { to: '/cycles', label: 'Cycles' },
  { to: '/emergency', label: 'Emergency' },
  { to: '/audit', label: 'Audit' },
];
