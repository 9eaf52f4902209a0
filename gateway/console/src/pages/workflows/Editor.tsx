import { useEffect, useMemo, useRef, useState, type DragEvent, type KeyboardEvent } from 'react';
import { STEP_TYPES, type DefinitionIssue, type StepType, type WorkflowStepInput } from '@patchbay/contracts';
import { graphql } from '../../gql';
import { useMutation } from '../../api/hooks';
import { ApiError, request } from '../../api/client';
import { Button, ErrorMessage, Field } from '../../ui/components';
import { COMMON_FIELDS, PARAM_FIELDS, dotted, fieldPaths } from './fields';
import { SpecInput, issuesFor, type StepIssues } from './inputs';
import { summary } from './summary';
import {
  LISTS,
  LIST_LABEL,
  PHASES,
  STEP_LABEL,
  defaultStep,
  freshId,
  getIn,
  isStepType,
  issuesByStep,
  locate,
  moveStep,
  newUid,
  setIn,
  stepOnce,
  toTemplate,
  validate,
  type EditStep,
  type EditTemplate,
  type List,
  type Phase,
} from './model';

export const SaveWorkflowMutation = graphql(`
  mutation SaveWorkflowTemplate($template: JSON!) {
    saveWorkflowTemplate(template: $template) {
      commandId
      id
      result
    }
  }
`);

const WorkflowIdTakenQuery = graphql(`
  query WorkflowIdTaken($id: ID!) {
    workflowTemplate(id: $id) {
      id
      lastVersion
    }
  }
`);

const DRAG_STEP = 'application/x-patchbay-step';
const DRAG_TYPE = 'application/x-patchbay-step-type';

interface EditorProps {
  initial: EditTemplate;
  isNew: boolean;
  canEdit: boolean;
  /** The template was saved: its id and version (unchanged: `changed` false). */
  onSaved(id: string, version: number, changed: boolean): void;
  /** The editor's current template, for the diff ("unsaved changes"). */
  onChange?(template: EditTemplate): void;
}

const stepName = (s: EditStep) => String(s.step.id || s.step.type);

/** The workflow editor: steps as cards per phase, catalogue, drag and keyboard reordering, save. */
export function WorkflowEditor({ initial, isNew, canEdit, onSaved, onChange }: EditorProps) {
  const [t, setT] = useState(initial);
  const [dirty, setDirty] = useState(false);
  const [announce, setAnnounce] = useState('');
  const [addTo, setAddTo] = useState<Phase>('post');
  const [drop, setDrop] = useState<{ list: List; index: number } | undefined>();
  const [serverIssues, setServerIssues] = useState<DefinitionIssue[]>([]);
  const [saved, setSaved] = useState('');
  const save = useMutation(SaveWorkflowMutation);
  const focusAfter = useRef<string | undefined>(undefined);
  /** Cards whose form is open (new steps open; a card with a problem is always open). */
  const [open, setOpen] = useState<ReadonlySet<string>>(() => new Set());
  const toggle = (uid: string) => setOpen((o) => (o.has(uid) ? new Set([...o].filter((x) => x !== uid)) : new Set([...o, uid])));

  const update = (next: EditTemplate) => {
    setT(next);
    setDirty(true);
    setServerIssues([]);
    setSaved('');
    onChange?.(next);
  };

  // A new workflow whose id is taken would become a new version of that one: say so before saving.
  const [taken, setTaken] = useState<number>();
  useEffect(() => {
    setTaken(undefined);
    if (!isNew || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(t.id)) return;
    const id = t.id;
    const timer = setTimeout(() => {
      request(WorkflowIdTakenQuery, { id })
        .then((r) => setTaken(r.workflowTemplate ? r.workflowTemplate.lastVersion : undefined))
        .catch(() => undefined);
    }, 300);
    return () => clearTimeout(timer);
  }, [isNew, t.id]);

  const localIssues = useMemo(() => validate(t), [t]);
  const issues = serverIssues.length ? [...localIssues, ...serverIssues.filter((s) => !localIssues.some((l) => l.path === s.path && l.code === s.code))] : localIssues;
  const { byStep, general } = useMemo(() => issuesByStep(t, issues), [t, issues]);
  const compIds = t.lists.compensations.map((s) => String(s.step.id ?? '')).filter(Boolean);

  const setStep = (uid: string, path: string[], value: unknown) => {
    const at = locate(t, uid);
    if (!at) return;
    const lists = { ...t.lists, [at.list]: t.lists[at.list].map((s) => (s.uid === uid ? { ...s, step: setIn(s.step, path, value) } : s)) };
    update({ ...t, lists });
  };

  /** Keeps focus with the moved or added step (on its heading when the pressed control went away). */
  const focusCard = (uid: string, always = false) => {
    focusAfter.current = uid;
    requestAnimationFrame(() => {
      const card = document.querySelector<HTMLElement>(`[data-step-uid="${focusAfter.current}"]`);
      if (!card) return;
      const active = document.activeElement;
      if (always || !active || !card.contains(active) || (active as HTMLButtonElement).disabled) card.querySelector<HTMLElement>('.step-move-target')?.focus();
    });
  };

  const move = (uid: string, direction: -1 | 1) => {
    const s = t.lists[locate(t, uid)?.list ?? 'pre'].find((x) => x.uid === uid);
    const r = stepOnce(t, uid, direction);
    if (!r || !s) {
      setAnnounce(`${s ? stepName(s) : 'Step'} cannot move ${direction < 0 ? 'up' : 'down'} any further.`);
      return;
    }
    update(r.template);
    setAnnounce(`${stepName(s)} moved to position ${r.index + 1} of ${r.template.lists[r.list].length} in ${LIST_LABEL[r.list]}.`);
    focusCard(uid);
  };

  const add = (type: StepType, list: List, index?: number) => {
    const id = freshId(t, type);
    const item: EditStep = { uid: newUid(), step: defaultStep(type, id) };
    const target = [...t.lists[list]];
    target.splice(index ?? target.length, 0, item);
    update({ ...t, lists: { ...t.lists, [list]: target } });
    setOpen((o) => new Set([...o, item.uid]));
    setAnnounce(`${STEP_LABEL[type]} added to ${LIST_LABEL[list]} as ${id}, position ${(index ?? target.length - 1) + 1} of ${target.length}.`);
    focusCard(item.uid, true);
  };

  const remove = (uid: string) => {
    const at = locate(t, uid);
    if (!at) return;
    const s = t.lists[at.list][at.index]!;
    update({ ...t, lists: { ...t.lists, [at.list]: t.lists[at.list].filter((x) => x.uid !== uid) } });
    setAnnounce(`${stepName(s)} removed from ${LIST_LABEL[at.list]}.`);
  };

  /** A new compensating step for `uid`, listed in its `compensate`. */
  const addCompensation = (uid: string, type: StepType) => {
    const at = locate(t, uid);
    if (!at) return;
    const s = t.lists[at.list][at.index]!;
    const id = freshId(t, `undo-${String(s.step.id || type)}`.slice(0, 60));
    const comp: EditStep = { uid: newUid(), step: defaultStep(type, id) };
    const refs = [...((s.step.compensate as string[] | undefined) ?? []), id];
    const lists = {
      ...t.lists,
      [at.list]: t.lists[at.list].map((x) => (x.uid === uid ? { ...x, step: { ...x.step, compensate: refs } } : x)),
      compensations: [...t.lists.compensations, comp],
    };
    update({ ...t, lists });
    setOpen((o) => new Set([...o, comp.uid]));
    setAnnounce(`Compensating step ${id} added for ${stepName(s)}.`);
  };

  // ------------------------------------------------------------------ drag and drop
  const onDragStart = (e: DragEvent, uid: string) => {
    e.dataTransfer.setData(DRAG_STEP, uid);
    e.dataTransfer.effectAllowed = 'move';
  };
  const dropIndex = (e: DragEvent<HTMLElement>, index: number) => {
    const r = e.currentTarget.getBoundingClientRect();
    return e.clientY > r.top + r.height / 2 ? index + 1 : index;
  };
  const onDragOver = (e: DragEvent<HTMLElement>, list: List, index: number) => {
    const types = e.dataTransfer.types;
    if (!types.includes(DRAG_STEP) && !types.includes(DRAG_TYPE)) return;
    if (list === 'compensations' && types.includes(DRAG_TYPE)) return;
    e.preventDefault();
    const i = index < 0 ? t.lists[list].length : dropIndex(e, index);
    if (drop?.list !== list || drop.index !== i) setDrop({ list, index: i });
  };
  const onDrop = (e: DragEvent<HTMLElement>, list: List, index: number) => {
    e.preventDefault();
    const i = index < 0 ? t.lists[list].length : dropIndex(e, index);
    setDrop(undefined);
    const type = e.dataTransfer.getData(DRAG_TYPE);
    if (isStepType(type)) return add(type, list, i);
    const uid = e.dataTransfer.getData(DRAG_STEP);
    const from = locate(t, uid);
    if (!from) return;
    // Steps never cross between the phases and the compensations.
    if ((from.list === 'compensations') !== (list === 'compensations')) {
      setAnnounce('Compensating steps stay among the compensations.');
      return;
    }
    const target = from.list === list && from.index < i ? i - 1 : i;
    const next = moveStep(t, uid, list, target);
    update(next);
    const s = next.lists[list][target]!;
    setAnnounce(`${stepName(s)} moved to position ${target + 1} of ${next.lists[list].length} in ${LIST_LABEL[list]}.`);
  };

  const onCardKey = (e: KeyboardEvent, uid: string) => {
    if (!canEdit || !e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
    e.preventDefault();
    move(uid, e.key === 'ArrowUp' ? -1 : 1);
  };

  const doSave = async () => {
    setSaved('');
    setServerIssues([]);
    const r = await save.run({ template: toTemplate(t) });
    if (!r) return;
    const reply = (r.saveWorkflowTemplate.result ?? {}) as { id?: string; version?: number; eventsAppended?: number };
    const changed = (reply.eventsAppended ?? 1) > 0;
    setDirty(false);
    setSaved(changed ? `Saved as version ${reply.version}.` : `No changes: version ${reply.version} is the same.`);
    onSaved(reply.id ?? t.id, reply.version ?? 1, changed);
  };
  // Issues the service found (they may go beyond the schemas) go next to their fields too.
  useEffect(() => {
    if (save.error instanceof ApiError && save.error.issues.length) setServerIssues(save.error.issues.map((i) => ({ code: i.code, path: i.path, message: i.message })));
  }, [save.error]);

  const headerIssue = (path: string) => general.filter((i) => i.path === path || i.path.startsWith(`${path}.`));
  const msg = (list: DefinitionIssue[]) => (list.length ? list.map((i) => `${i.message} (${i.code})`).join('; ') : undefined);
  const others = general.filter((i) => !['id', 'name', 'description'].some((p) => i.path === p) && !i.path.startsWith('phases.patch') && !LISTS.some((l) => i.path === `phases.${l}`));

  return (
    <div className="wf-editor">
      <p className="visually-hidden" aria-live="polite" role="status">
        {announce}
      </p>
      <fieldset className="card wf-head" disabled={!canEdit}>
        <legend>Workflow</legend>
        <div className="grid">
          <Field
            label="Workflow id"
            error={msg(headerIssue('id'))}
            hint={isNew ? (taken ? `A workflow ${t.id} exists (v${taken}): saving adds a version to it.` : 'Lower-case letters, digits and -; cannot change later.') : 'Saving makes a new version of this workflow.'}
          >
            {(p) => <input {...p} type="text" value={t.id} readOnly={!isNew} onChange={(e) => update({ ...t, id: e.target.value })} />}
          </Field>
          <Field label="Workflow name" error={msg(headerIssue('name'))}>
            {(p) => <input {...p} type="text" value={t.name} onChange={(e) => update({ ...t, name: e.target.value })} />}
          </Field>
        </div>
        <Field label="Description" error={msg(headerIssue('description'))}>
          {(p) => <textarea {...p} rows={2} value={t.description} onChange={(e) => update({ ...t, description: e.target.value })} />}
        </Field>
      </fieldset>

      <div className="wf-layout">
        {canEdit ? (
          <aside className="card wf-catalogue" aria-labelledby="catalogue-title">
            <h2 id="catalogue-title">Step catalogue</h2>
            <Field label="Add to phase">
              {(p) => (
                <select {...p} value={addTo} onChange={(e) => setAddTo(e.target.value as Phase)}>
                  {PHASES.map((ph) => (
                    <option key={ph} value={ph}>
                      {LIST_LABEL[ph]}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <p className="hint">Click a step to add it, or drag it to its place.</p>
            <ul className="wf-catalogue-list">
              {STEP_TYPES.map((type) => (
                <li key={type}>
                  <button
                    type="button"
                    className="btn wf-catalogue-item"
                    draggable
                    onDragStart={(e) => {
                      e.dataTransfer.setData(DRAG_TYPE, type);
                      e.dataTransfer.effectAllowed = 'copy';
                    }}
                    onClick={() => add(type, addTo)}
                  >
                    <span className="wf-type">
                      <span className="visually-hidden">Add </span>
                      {type}
                      <span className="visually-hidden"> step</span>
                    </span>
                    <span className="muted">{STEP_LABEL[type]}</span>
                  </button>
                </li>
              ))}
            </ul>
          </aside>
        ) : null}

        <div className="wf-phases">
          {LISTS.map((list) => (
            <section key={list} className={`wf-phase wf-phase-${list}`} aria-labelledby={`phase-${list}`}>
              <h2 id={`phase-${list}`}>
                {LIST_LABEL[list]} <span className="muted">({t.lists[list].length})</span>
              </h2>
              {list === 'compensations' ? <p className="hint">Run only to undo a step that failed with “compensate”; each is shown beside the step it undoes.</p> : null}
              {list !== 'compensations' && msg(general.filter((i) => i.path === `phases.${list}`)) ? (
                <p className="field-error" role="alert">
                  {msg(general.filter((i) => i.path === `phases.${list}`))}
                </p>
              ) : null}
              <ol className="wf-steps" aria-label={list === 'compensations' ? 'Compensating steps' : `${LIST_LABEL[list]} steps`}>
                {t.lists[list].map((s, i) => (
                  <StepCard
                    key={s.uid}
                    item={s}
                    list={list}
                    index={i}
                    count={t.lists[list].length}
                    template={t}
                    issues={byStep.get(s.uid)}
                    compIds={compIds}
                    canEdit={canEdit}
                    open={open.has(s.uid) || byStep.has(s.uid)}
                    onToggle={() => toggle(s.uid)}
                    dropBefore={drop?.list === list && drop.index === i}
                    onField={(path, v) => setStep(s.uid, path, v)}
                    onMove={(d) => move(s.uid, d)}
                    onRemove={() => remove(s.uid)}
                    onKey={(e) => onCardKey(e, s.uid)}
                    onDragStart={(e) => onDragStart(e, s.uid)}
                    onDragOver={(e) => onDragOver(e, list, i)}
                    onDrop={(e) => onDrop(e, list, i)}
                    onAddCompensation={(type) => addCompensation(s.uid, type)}
                    onDragEnd={() => setDrop(undefined)}
                  />
                ))}
              </ol>
              {canEdit ? (
                <div
                  className={`wf-drop-end ${drop?.list === list && drop.index === t.lists[list].length ? 'wf-drop-active' : ''}`}
                  onDragOver={(e) => onDragOver(e, list, -1)}
                  onDrop={(e) => onDrop(e, list, -1)}
                  onDragLeave={() => setDrop(undefined)}
                >
                  {t.lists[list].length === 0 ? 'No steps. Drop a step here.' : 'Drop here to place last.'}
                </div>
              ) : null}
            </section>
          ))}
        </div>
      </div>

      {others.length ? (
        <div className="error-box" role="alert">
          <strong>Problems:</strong>
          <ul>
            {others.map((i, n) => (
              <li key={n}>
                {i.path ? <code>{i.path}</code> : null} {i.message} <code>{i.code}</code>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {canEdit ? (
        <div className="wf-save">
          <Button tone="primary" onClick={doSave} disabled={save.running || localIssues.length > 0 || (!dirty && !isNew)} aria-describedby="wf-save-state">
            {save.running ? 'Saving…' : 'Save new version'}
          </Button>
          <span id="wf-save-state" className="muted" role="status" aria-live="polite">
            {localIssues.length > 0 ? `${localIssues.length} problem${localIssues.length === 1 ? '' : 's'} to fix before saving.` : saved || (dirty ? 'Unsaved changes.' : isNew ? '' : 'No changes.')}
          </span>
          <ErrorMessage error={save.error} title="Not saved" />
        </div>
      ) : null}
    </div>
  );
}

interface CardProps {
  item: EditStep;
  list: List;
  index: number;
  count: number;
  template: EditTemplate;
  issues: StepIssues | undefined;
  compIds: string[];
  canEdit: boolean;
  open: boolean;
  onToggle(): void;
  dropBefore: boolean;
  onField(path: string[], value: unknown): void;
  onMove(direction: -1 | 1): void;
  onRemove(): void;
  onKey(e: KeyboardEvent): void;
  onDragStart(e: DragEvent): void;
  onDragOver(e: DragEvent<HTMLElement>): void;
  onDrop(e: DragEvent<HTMLElement>): void;
  onDragEnd(): void;
  onAddCompensation(type: StepType): void;
}

const ADVANCED = new Set(['timeoutSeconds', 'retries.max', 'retries.backoffSeconds', 'onFailure', 'compensate']);

function StepCard(props: CardProps) {
  const { item, list, index, count, template, issues, compIds, canEdit } = props;
  const step = item.step as WorkflowStepInput & Record<string, unknown>;
  const type = step.type as StepType;
  const id = String(step.id ?? '');
  const label = id || type;
  const params = PARAM_FIELDS[type] ?? [];
  const kindOf = (path: string[]) => {
    const v = getIn(step, [...path, 'kind']);
    return typeof v === 'string' ? v : undefined;
  };
  const claimed = [...fieldPaths(COMMON_FIELDS, kindOf), ...fieldPaths(params, kindOf), 'compensate'];
  const issueCount = [...(issues?.values() ?? [])].reduce((n, l) => n + l.length, 0);
  // Issues no field claims (the step as a whole, an unknown field) are shown at the card's top.
  const loose = [...(issues?.entries() ?? [])].filter(([p]) => !claimed.some((c) => p === c || p.startsWith(`${c}.`) || p.startsWith(`${c}[`))).flatMap(([, l]) => l);
  const advancedInvalid = [...(issues?.keys() ?? [])].some((p) => [...ADVANCED].some((a) => p === a || p.startsWith(`${a}.`) || p.startsWith(`${a}[`)));
  const compensate = Array.isArray(step.compensate) ? (step.compensate as string[]) : [];
  const undoneBy = compensate.map((ref) => template.lists.compensations.find((c) => c.step.id === ref) ?? ref);
  const after = list !== 'compensations' && type === 'reboot' ? stepsAfter(template, list, index) : 0;
  const compIssue = issuesFor(issues, 'compensate', []);
  const [compType, setCompType] = useState<StepType>('custom');
  const headingId = `step-${item.uid}-title`;

  return (
    <li
      className={`wf-step ${props.dropBefore ? 'wf-drop-before' : ''} ${issueCount ? 'wf-step-invalid' : ''}`}
      data-step-uid={item.uid}
      data-step-id={id}
      aria-labelledby={headingId}
      onKeyDown={props.onKey}
      onDragOver={canEdit ? props.onDragOver : undefined}
      onDrop={canEdit ? props.onDrop : undefined}
    >
      <div className="wf-step-main">
        <div className="wf-step-head" draggable={canEdit} onDragStart={props.onDragStart} onDragEnd={props.onDragEnd}>
          {canEdit ? (
            <span className="wf-grip" aria-hidden="true" title="Drag to reorder">
              ⠿
            </span>
          ) : null}
          <h3 id={headingId}>
            <span className="wf-pos">{index + 1}.</span> <span className="wf-type">{type}</span> <code>{label}</code>
            {typeof step.name === 'string' && step.name ? <span className="muted"> — {step.name}</span> : null}
          </h3>
          {issueCount ? <span className="badge tone-bad">{issueCount} problem{issueCount === 1 ? '' : 's'}</span> : null}
          <Button className="step-move-target" onClick={props.onToggle} aria-expanded={props.open} aria-controls={`${item.uid}-body`} disabled={props.open && issueCount > 0}>
            {props.open ? 'Close' : canEdit ? 'Edit' : 'Show'}
            <span className="visually-hidden"> {label}</span>
          </Button>
          {canEdit ? (
            <span className="wf-step-actions">
              <Button onClick={() => props.onMove(-1)} aria-label={`Move ${label} up`} title="Move up (Alt+↑)" aria-keyshortcuts="Alt+ArrowUp" disabled={list === 'compensations' ? index === 0 : list === 'pre' && index === 0}>
                ↑
              </Button>
              <Button onClick={() => props.onMove(1)} aria-label={`Move ${label} down`} title="Move down (Alt+↓)" aria-keyshortcuts="Alt+ArrowDown" disabled={list === 'compensations' ? index === count - 1 : list === 'post' && index === count - 1}>
                ↓
              </Button>
              <Button tone="danger" onClick={props.onRemove} aria-label={`Remove ${label}`}>
                Remove
              </Button>
            </span>
          ) : null}
        </div>
        {type === 'reboot' && list !== 'compensations' ? (
          <p className="wf-note">
            {after > 0 ? `${after} step${after === 1 ? '' : 's'} run after the endpoint comes back.` : 'Last step: nothing runs after it.'}
          </p>
        ) : null}
        {loose.length ? (
          <p className="field-error" role="alert">
            {loose.map((i) => `${i.path ? `${i.path}: ` : ''}${i.message} (${i.code})`).join('; ')}
          </p>
        ) : null}
        {!props.open ? <p className="wf-summary">{summary(step)}</p> : null}
        <fieldset className="wf-step-body" id={`${item.uid}-body`} disabled={!canEdit} hidden={!props.open}>
          <legend className="visually-hidden">Parameters of {label}</legend>
          <div className="grid wf-fields">
            {COMMON_FIELDS.filter((f) => !ADVANCED.has(dotted(f.path))).map((f) => (
              <SpecInput key={dotted(f.path)} spec={f} step={step} issues={issues} claimed={claimed} stepLabel={label} onChange={props.onField} />
            ))}
            {params.map((f) => (
              <SpecInput key={dotted(f.path)} spec={f} step={step} issues={issues} claimed={claimed} stepLabel={label} onChange={props.onField} />
            ))}
          </div>
          <details className="wf-advanced" open={advancedInvalid || undefined}>
            <summary>Timeout, retries and failure handling</summary>
            <div className="grid wf-fields">
              {COMMON_FIELDS.filter((f) => ADVANCED.has(dotted(f.path))).map((f) => (
                <SpecInput key={dotted(f.path)} spec={f} step={step} issues={issues} claimed={claimed} stepLabel={label} onChange={props.onField} />
              ))}
            </div>
            {list !== 'compensations' ? (
              <fieldset className={`wf-compensate ${compIssue.length ? 'field-invalid' : ''}`}>
                <legend>Undone by</legend>
                {compIds.length === 0 ? <p className="muted">No compensating steps yet.</p> : null}
                {compIds.map((cid) => (
                  <label key={cid} className="wf-check">
                    <input
                      type="checkbox"
                      checked={compensate.includes(cid)}
                      onChange={(e) => props.onField(['compensate'], e.target.checked ? [...compensate, cid] : compensate.filter((x) => x !== cid))}
                    />{' '}
                    {cid}
                  </label>
                ))}
                {compIssue.length ? (
                  <small className="field-error" role="alert">
                    {compIssue.map((i) => `${i.message} (${i.code})`).join('; ')}
                  </small>
                ) : null}
                {canEdit ? (
                  <div className="wf-inline">
                    <label htmlFor={`${item.uid}-comp-type`} className="visually-hidden">
                      Type of compensating step for {label}
                    </label>
                    <select id={`${item.uid}-comp-type`} value={compType} onChange={(e) => setCompType(e.target.value as StepType)}>
                      {STEP_TYPES.map((ty) => (
                        <option key={ty} value={ty}>
                          {ty}
                        </option>
                      ))}
                    </select>
                    <Button onClick={() => props.onAddCompensation(compType)} aria-label={`Add compensating step for ${label}`}>
                      Add compensating step
                    </Button>
                  </div>
                ) : null}
              </fieldset>
            ) : null}
          </details>
        </fieldset>
      </div>
      {list !== 'compensations' ? (
        <aside className="wf-undo" aria-label={`Compensation of ${label}`}>
          <h4>Undone by</h4>
          {undoneBy.length === 0 ? (
            <p className="muted">{step.onFailure === 'compensate' ? 'Nothing yet (onFailure is compensate).' : 'No compensation.'}</p>
          ) : (
            <ul>
              {undoneBy.map((c) =>
                typeof c === 'string' ? (
                  <li key={c} className="field-error">
                    {c} (no such step)
                  </li>
                ) : (
                  <li key={c.uid}>
                    <span className="wf-type">{String(c.step.type)}</span> <code>{String(c.step.id)}</code>
                  </li>
                ),
              )}
            </ul>
          )}
          {step.onFailure === 'compensate' ? <p className="hint">Runs these, then stops the endpoint, if this step fails.</p> : undoneBy.length ? <p className="hint">Used only when “On failure” is compensate.</p> : null}
        </aside>
      ) : (
        <aside className="wf-undo" aria-label={`Steps ${label} undoes`}>
          <h4>Undoes</h4>
          <UndoneSteps template={template} id={id} />
        </aside>
      )}
    </li>
  );
}

function UndoneSteps({ template, id }: { template: EditTemplate; id: string }) {
  const users = PHASES.flatMap((p) => template.lists[p].filter((s) => Array.isArray(s.step.compensate) && (s.step.compensate as string[]).includes(id)));
  if (users.length === 0) return <p className="muted">No step refers to it.</p>;
  return (
    <ul>
      {users.map((s) => (
        <li key={s.uid}>
          <span className="wf-type">{String(s.step.type)}</span> <code>{String(s.step.id)}</code>
        </li>
      ))}
    </ul>
  );
}

/** Steps that run after position `index` of `list` (later in the phase and in later phases). */
function stepsAfter(t: EditTemplate, list: List, index: number): number {
  const p = PHASES.indexOf(list as Phase);
  let n = t.lists[list].length - index - 1;
  for (const later of PHASES.slice(p + 1)) n += t.lists[later].length;
  return n;
}

