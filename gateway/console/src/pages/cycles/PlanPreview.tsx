import type { CyclePlan, CyclePreviewReply } from '@patchbay/contracts';

const SHOWN = 25;

/** A dry-run plan: waves × endpoints × steps, what is skipped and why, and the plan as printed. */
export function PlanPreview({ reply }: { reply: unknown }) {
  const r = reply as Partial<CyclePreviewReply> | undefined;
  const plan = r?.plan as CyclePlan | undefined;
  if (!plan) return <p className="muted">The planner answered without a plan.</p>;
  const steps = plan.workflow.steps;
  const endpoints = plan.waves.reduce((n, w) => n + w.endpoints.length, 0);
  return (
    <section className="card plan-preview" aria-labelledby="plan-title">
      <h2 id="plan-title">Plan preview</h2>
      <dl className="facts">
        <div>
          <dt>Kind</dt>
          <dd>{plan.kind}</dd>
        </div>
        <div>
          <dt>Policy</dt>
          <dd>
            {plan.policy.id} v{plan.policy.version}
          </dd>
        </div>
        <div>
          <dt>Workflow</dt>
          <dd>
            {plan.workflow.workflowId} v{plan.workflow.version} ({steps.length} steps)
          </dd>
        </div>
        <div>
          <dt>Endpoints</dt>
          <dd>
            {endpoints} in {plan.waves.length} wave{plan.waves.length === 1 ? '' : 's'}, {plan.skipped.length} skipped
          </dd>
        </div>
        <div>
          <dt>Concurrency</dt>
          <dd>{plan.concurrency.limit} at once</dd>
        </div>
        <div>
          <dt>Halts after</dt>
          <dd>{plan.errorThreshold.limit} failed</dd>
        </div>
        <div>
          <dt>Approval</dt>
          <dd>{plan.approval.mode === 'manual' ? `manual, ${plan.approval.minApprovals} of ${plan.approval.approvers.join(', ')}` : `automatic after ${plan.approval.afterDays} day(s)`}</dd>
        </div>
        <div>
          <dt>Reboot</dt>
          <dd>{plan.rebootPolicy}</dd>
        </div>
        {plan.emergency ? (
          <div>
            <dt>Advisory</dt>
            <dd>
              {plan.emergency.advisoryId}: {plan.emergency.packages.join(', ')}
            </dd>
          </div>
        ) : null}
        {r?.planHash ? (
          <div>
            <dt>Plan hash</dt>
            <dd>
              <code>{r.planHash.slice(0, 12)}</code>
            </dd>
          </div>
        ) : null}
      </dl>
      <table>
        <caption>Waves × endpoints × steps</caption>
        <thead>
          <tr>
            <th scope="col">Wave</th>
            <th scope="col">Endpoints</th>
            <th scope="col">Tiers</th>
            <th scope="col">Steps per endpoint</th>
            <th scope="col">Step runs</th>
            <th scope="col">Reboot required</th>
          </tr>
        </thead>
        <tbody>
          {plan.waves.map((w) => (
            <tr key={w.index}>
              <th scope="row">
                {w.index}. {w.name}
              </th>
              <td>{w.endpoints.length}</td>
              <td>{[...new Set(w.endpoints.map((e) => e.tier))].join(', ')}</td>
              <td>{steps.length}</td>
              <td>{w.endpoints.length * steps.length}</td>
              <td>{w.endpoints.filter((e) => e.rebootRequired).length}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Steps each endpoint runs</h3>
      <ol className="plan-steps">
        {steps.map((s) => (
          <li key={s.step.id}>
            <span className="badge tone-idle">{s.phase}</span> <span className="wf-type">{s.step.type}</span> <code>{s.step.id}</code>
          </li>
        ))}
      </ol>
      {plan.waves.map((w) => (
        <details key={w.index}>
          <summary>
            Endpoints of wave {w.index} ({w.name}): {w.endpoints.length}
          </summary>
          <table>
            <caption className="visually-hidden">Endpoints of wave {w.name}</caption>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">Group</th>
                <th scope="col">Tier</th>
                <th scope="col">Packages</th>
                <th scope="col">Reboot required</th>
              </tr>
            </thead>
            <tbody>
              {w.endpoints.slice(0, SHOWN).map((e) => (
                <tr key={e.endpointId}>
                  <th scope="row">{e.endpointId}</th>
                  <td>{e.groupId}</td>
                  <td>{e.tier}</td>
                  <td>
                    {e.packages.length === 0
                      ? 'all pending'
                      : e.packages
                          .slice(0, 6)
                          .map((p) => `${p.name}${p.security ? ' (security)' : ''}`)
                          .join(', ') + (e.packages.length > 6 ? ` and ${e.packages.length - 6} more` : '')}
                  </td>
                  <td>{e.rebootRequired ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {w.endpoints.length > SHOWN ? <p className="muted">and {w.endpoints.length - SHOWN} more.</p> : null}
        </details>
      ))}
      {plan.skipped.length ? (
        <details>
          <summary>Skipped endpoints: {plan.skipped.length}</summary>
          <ul>
            {plan.skipped.slice(0, 100).map((s) => (
              <li key={s.endpointId}>
                {s.endpointId}: {s.reason} <code>{s.code}</code>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {r?.text ? (
        <details>
          <summary>The plan as printed</summary>
          <pre className="output">{r.text}</pre>
        </details>
      ) : null}
    </section>
  );
}
