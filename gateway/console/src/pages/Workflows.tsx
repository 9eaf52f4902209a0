import { useMemo, useState } from 'react';
import { graphql } from '../gql';
import { useQuery } from '../api/hooks';
import { request } from '../api/client';
import { Link, useQueryParams, useRouter } from '../app/router';
import { useSession } from '../app/session';
import { Empty, ErrorMessage, Loading, Page, Pager, StatusBadge, Time, usePager } from '../ui/components';
import { WorkflowEditor } from './workflows/Editor';
import { VersionDiff } from './workflows/Diff';
import { emptyTemplate, fromTemplate, toTemplate, type EditTemplate } from './workflows/model';
import './workflows/workflows.css';

const WorkflowListQuery = graphql(`
  query WorkflowList($first: Int, $after: String) {
    workflowTemplates(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          name
          lastVersion
          retired
          template {
            savedAt
            savedBy
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const WorkflowDetailQuery = graphql(`
  query WorkflowDetail($id: ID!) {
    workflowTemplate(id: $id) {
      id
      name
      lastVersion
      retired
      versions {
        version
        template
        savedAt
        savedBy
      }
    }
  }
`);

/** The read model follows the store shortly after a save: wait (up to ~10 s) until it shows `version`. */
async function waitForVersion(id: string, version: number): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const r = await request(WorkflowDetailQuery, { id }).catch(() => undefined);
    if ((r?.workflowTemplate?.lastVersion ?? 0) >= version) return;
    await new Promise((res) => setTimeout(res, 250));
  }
}

export function WorkflowsPage({ workflowId }: { workflowId?: string | undefined }) {
  const [query] = useQueryParams();
  if (workflowId) return <WorkflowDetail workflowId={workflowId} />;
  if (query.get('new') !== null) return <NewWorkflow />;
  return <WorkflowList />;
}

function WorkflowList() {
  const { can } = useSession();
  const pager = usePager(50, 'workflows');
  const q = useQuery(WorkflowListQuery, { first: pager.first, after: pager.after });
  const edges = q.data?.workflowTemplates.edges ?? [];
  return (
    <Page
      title="Workflows"
      actions={
        can('Mutation.saveWorkflowTemplate') ? (
          <Link to="/workflows?new=1" className="btn btn-primary">
            New workflow
          </Link>
        ) : null
      }
    >
      <ErrorMessage error={q.error} />
      {q.loading && !q.data ? <Loading label="Loading workflows" /> : null}
      {q.data && edges.length === 0 ? <Empty>No workflows yet.</Empty> : null}
      {edges.length ? (
        <table>
          <caption className="visually-hidden">Workflow templates</caption>
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Name</th>
              <th scope="col">Latest version</th>
              <th scope="col">Saved</th>
              <th scope="col">By</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {edges.map(({ node: w }) => (
              <tr key={w.id}>
                <th scope="row">
                  <Link to={`/workflows/${encodeURIComponent(w.id)}`}>{w.id}</Link>
                </th>
                <td>{w.name ?? <span className="muted">—</span>}</td>
                <td>v{w.lastVersion}</td>
                <td>
                  <Time at={w.template?.savedAt} />
                </td>
                <td>{w.template?.savedBy ?? '—'}</td>
                <td>{w.retired ? <StatusBadge status="retired" /> : <StatusBadge status="active" />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager label="Workflows" page={pager.page} hasNext={q.data?.workflowTemplates.pageInfo.hasNextPage ?? false} onNext={() => pager.next(q.data?.workflowTemplates.pageInfo.endCursor)} onPrevious={pager.previous} />
    </Page>
  );
}

function NewWorkflow() {
  const { can } = useSession();
  const { navigate } = useRouter();
  const initial = useMemo(() => emptyTemplate(), []);
  return (
    <Page title="New workflow">
      <p>
        <Link to="/workflows">All workflows</Link>
      </p>
      {can('Mutation.saveWorkflowTemplate') ? (
        <WorkflowEditor initial={initial} isNew canEdit onSaved={(id, version) => void waitForVersion(id, version).then(() => navigate(`/workflows/${encodeURIComponent(id)}?version=${version}`))} />
      ) : (
        <Empty>Your role cannot create workflows.</Empty>
      )}
    </Page>
  );
}

function WorkflowDetail({ workflowId }: { workflowId: string }) {
  const { can } = useSession();
  const [query, setQuery] = useQueryParams();
  const q = useQuery(WorkflowDetailQuery, { id: workflowId });
  const [editing, setEditing] = useState<EditTemplate>();
  const w = q.data?.workflowTemplate;
  const versions = w?.versions ?? [];
  const asked = Number(query.get('version') ?? '');
  const version = versions.find((v) => v.version === asked) ?? versions[versions.length - 1];
  // A fresh editor model per loaded version (the key below remounts the editor).
  const initial = useMemo(() => (version ? fromTemplate(version.template) : undefined), [version]);
  const canEdit = can('Mutation.saveWorkflowTemplate');

  return (
    <Page title={`Workflow ${workflowId}`}>
      <p>
        <Link to="/workflows">All workflows</Link>
      </p>
      <ErrorMessage error={q.error} />
      {q.loading && !q.data ? <Loading label="Loading the workflow" /> : null}
      {q.data && !w ? <Empty>No workflow {workflowId}.</Empty> : null}
      {w && version && initial ? (
        <>
          <div className="wf-meta">
            <label htmlFor="wf-version">Version</label>
            <select id="wf-version" value={version.version} onChange={(e) => setQuery({ version: e.target.value })}>
              {versions.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                  {v.version === w.lastVersion ? ' (latest)' : ''}
                </option>
              ))}
            </select>
            <span className="muted">
              saved <Time at={version.savedAt} /> by {version.savedBy ?? '—'}
            </span>
            {w.retired ? <StatusBadge status="retired" /> : null}
            {!canEdit ? <span className="muted">Read only: your role cannot save workflows.</span> : null}
          </div>
          <WorkflowEditor
            key={`${w.id}@${version.version}`}
            initial={initial}
            isNew={false}
            canEdit={canEdit}
            onChange={setEditing}
            onSaved={(_, v, changed) => {
              setEditing(undefined);
              if (changed)
                void waitForVersion(w.id, v)
                  .then(() => q.reload())
                  .then(() => setQuery({ version: String(v) }));
            }}
          />
          <VersionDiff key={w.lastVersion} versions={versions.map((v) => ({ version: v.version, template: v.template }))} editing={editing ? toTemplate(editing) : undefined} />
        </>
      ) : null}
    </Page>
  );
}
