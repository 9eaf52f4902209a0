import { useMemo, useState } from 'react';
import { Empty } from '../../ui/components';
import { diffTemplates, show, type StepChange } from './model';

const EDITOR = 'editor';

/** Compares two versions (or a version and the editor's unsaved template) step by step. */
export function VersionDiff({ versions, editing }: { versions: Array<{ version: number; template: unknown }>; editing: unknown }) {
  const last = versions[versions.length - 1]?.version ?? 1;
  const [from, setFrom] = useState(String(Math.max(1, last - 1)));
  const [to, setTo] = useState(String(last));
  const pick = (v: string) => (v === EDITOR ? editing : versions.find((x) => String(x.version) === v)?.template);
  const a = pick(from);
  const b = pick(to);
  const diff = useMemo(() => (a && b ? diffTemplates(a, b) : undefined), [a, b]);
  const name = (v: string) => (v === EDITOR ? 'unsaved changes' : `v${v}`);
  const options = (
    <>
      {versions.map((v) => (
        <option key={v.version} value={String(v.version)}>
          v{v.version}
        </option>
      ))}
      {editing ? <option value={EDITOR}>Unsaved changes</option> : null}
    </>
  );
  return (
    <section className="card wf-diff" aria-labelledby="wf-diff-title">
      <h2 id="wf-diff-title">Compare versions</h2>
      <div className="filters">
        <div className="field">
          <label htmlFor="wf-diff-from">From version</label>
          <select id="wf-diff-from" value={from} onChange={(e) => setFrom(e.target.value)}>
            {options}
          </select>
        </div>
        <div className="field">
          <label htmlFor="wf-diff-to">To version</label>
          <select id="wf-diff-to" value={to} onChange={(e) => setTo(e.target.value)}>
            {options}
          </select>
        </div>
      </div>
      {!diff ? null : diff.steps.length === 0 && diff.header.length === 0 ? (
        <Empty>
          {name(from)} and {name(to)} have the same steps.
        </Empty>
      ) : (
        <ul className="wf-diff-list" aria-label={`Changes from ${name(from)} to ${name(to)}`}>
          {diff.header.map((c) => (
            <li key={c.path} className="wf-diff-changed">
              <span className="badge tone-warn">changed</span> workflow {c.path}: <Change c={c} />
            </li>
          ))}
          {diff.steps.map((d) => (
            <li key={`${d.kind}-${d.id}`} className={`wf-diff-${d.kind}`}>
              <span className={`badge ${d.kind === 'added' ? 'tone-good' : d.kind === 'removed' ? 'tone-bad' : d.kind === 'moved' ? 'tone-busy' : 'tone-warn'}`}>{d.kind}</span>{' '}
              <span className="wf-type">{d.type}</span> <code>{d.id}</code>{' '}
              {d.kind === 'moved' ? (
                <span>
                  from {d.from} to {d.to}
                </span>
              ) : (
                <span>at {d.where}</span>
              )}
              {(d.kind === 'moved' || d.kind === 'changed') && d.changes.length ? (
                <ul>
                  {d.changes.map((c) => (
                    <li key={c.path}>
                      <code>{c.path}</code>: <Change c={c} />
                    </li>
                  ))}
                </ul>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Change({ c }: { c: StepChange }) {
  return (
    <>
      <del>{show(c.before)}</del> → <ins>{show(c.after)}</ins>
    </>
  );
}
