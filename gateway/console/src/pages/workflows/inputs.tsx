import { useEffect, useState } from 'react';
import type { DefinitionIssue } from '@patchbay/contracts';
import { Field } from '../../ui/components';
import { dotted, type FieldSpec } from './fields';
import { getIn } from './model';

/** Issues of one step, keyed by their path inside it. */
export type StepIssues = Map<string, DefinitionIssue[]>;

/** The issues a field shows: its own path and anything below it (`params.hook.argv[0]` under `params.hook.argv`). */
export function issuesFor(issues: StepIssues | undefined, path: string, claimed: readonly string[]): DefinitionIssue[] {
  if (!issues) return [];
  const out: DefinitionIssue[] = [];
  for (const [p, list] of issues) {
    const under = p === path || p.startsWith(`${path}.`) || p.startsWith(`${path}[`);
    // A deeper field claims its own issues (the union's `kind` select vs. its fields).
    const deeper = claimed.some((c) => c !== path && c.startsWith(path) && (p === c || p.startsWith(`${c}.`) || p.startsWith(`${c}[`)));
    if (under && !deeper) out.push(...list);
  }
  return out;
}

const message = (list: readonly DefinitionIssue[]): string | undefined => (list.length ? list.map((i) => `${i.message} (${i.code})`).join('; ') : undefined);

/** Text whose value is parsed on each change; what was typed stays until the value changes from outside. */
function useText(value: unknown, format: (v: unknown) => string): [string, (t: string) => void] {
  const [text, setText] = useState(() => format(value));
  const formatted = format(value);
  useEffect(() => {
    setText((t) => (t === formatted ? t : formatted));
    // Only an outside change of the value resets the text.
  }, [formatted]);
  return [text, setText];
}

const linesOf = (v: unknown) => (Array.isArray(v) ? v.map(String).join('\n') : '');
const statusesOf = (v: unknown) => (Array.isArray(v) ? v.join(', ') : '');
const headersOf = (v: unknown) =>
  v && typeof v === 'object'
    ? Object.entries(v as Record<string, string>)
        .map(([k, x]) => `${k}: ${x}`)
        .join('\n')
    : '';

interface InputProps {
  spec: FieldSpec;
  step: unknown;
  issues: StepIssues | undefined;
  claimed: readonly string[];
  stepLabel: string;
  onChange(path: string[], value: unknown): void;
}

/** One parameter's input, labelled, with the schema's errors for it right below. */
export function SpecInput({ spec, step, issues, claimed, stepLabel, onChange }: InputProps) {
  const value = getIn(step, spec.path);
  const error = message(issuesFor(issues, dotted(spec.path), claimed));
  const hint = 'hint' in spec ? spec.hint : undefined;
  switch (spec.kind) {
    case 'text':
      return (
        <Field label={spec.label} error={error} {...(hint ? { hint } : {})}>
          {(p) => <input {...p} type="text" value={typeof value === 'string' ? value : ''} onChange={(e) => onChange(spec.path, e.target.value === '' && spec.optional ? undefined : e.target.value)} />}
        </Field>
      );
    case 'textarea':
      return (
        <Field label={spec.label} error={error} {...(hint ? { hint } : {})}>
          {(p) => <textarea {...p} rows={3} value={typeof value === 'string' ? value : ''} onChange={(e) => onChange(spec.path, e.target.value === '' && spec.optional ? undefined : e.target.value)} />}
        </Field>
      );
    case 'number':
      return (
        <Field label={spec.label} error={error} {...(hint ? { hint } : {})}>
          {(p) => (
            <input
              {...p}
              type="number"
              inputMode="decimal"
              step={spec.step ?? 1}
              value={typeof value === 'number' ? String(value) : ''}
              onChange={(e) => onChange(spec.path, e.target.value === '' ? undefined : Number(e.target.value))}
            />
          )}
        </Field>
      );
    case 'select':
      return (
        <Field label={spec.label} error={error} {...(hint ? { hint } : {})}>
          {(p) => (
            <select {...p} value={typeof value === 'string' ? value : ''} onChange={(e) => onChange(spec.path, e.target.value === '' ? undefined : e.target.value)}>
              {spec.optional || typeof value !== 'string' ? <option value="">(default)</option> : null}
              {spec.options.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          )}
        </Field>
      );
    case 'bool':
      return (
        <div className={`field field-check ${error ? 'field-invalid' : ''}`}>
          <label>
            <input type="checkbox" checked={value !== false} onChange={(e) => onChange(spec.path, e.target.checked)} /> {spec.label}
          </label>
          {error ? (
            <small className="field-error" role="alert">
              {error}
            </small>
          ) : null}
        </div>
      );
    case 'lines':
      return <LinesInput spec={spec} value={value} error={error} onChange={onChange} />;
    case 'statuses':
      return <StatusesInput spec={spec} value={value} error={error} onChange={onChange} />;
    case 'headers':
      return <HeadersInput spec={spec} value={value} error={error} onChange={onChange} />;
    case 'union': {
      const kind = typeof (value as { kind?: unknown } | undefined)?.kind === 'string' ? String((value as { kind: string }).kind) : '';
      const variant = spec.variants[kind];
      return (
        <fieldset className="union">
          <legend>{spec.label}</legend>
          <Field label={`${spec.label} kind`} error={message(issuesFor(issues, `${dotted(spec.path)}.kind`, []))}>
            {(p) => (
              <select {...p} value={kind} onChange={(e) => onChange(spec.path, structuredClone(spec.variants[e.target.value]?.initial ?? {}))}>
                {!variant ? <option value="">(choose)</option> : null}
                {Object.entries(spec.variants).map(([k, v]) => (
                  <option key={k} value={k}>
                    {v.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {variant?.fields.map((f) => <SpecInput key={dotted(f.path)} spec={f} step={step} issues={issues} claimed={claimed} stepLabel={stepLabel} onChange={onChange} />)}
        </fieldset>
      );
    }
  }
}

function LinesInput({ spec, value, error, onChange }: { spec: Extract<FieldSpec, { kind: 'lines' }>; value: unknown; error: string | undefined; onChange: InputProps['onChange'] }) {
  const [text, setText] = useText(value, linesOf);
  const isArgv = spec.path[spec.path.length - 1] === 'argv';
  return (
    <Field label={spec.label} error={error} {...(spec.hint ? { hint: spec.hint } : {})}>
      {(p) => (
        <textarea
          {...p}
          className="mono"
          rows={Math.min(8, Math.max(2, text.split('\n').length))}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            let lines = e.target.value.split('\n');
            // argv may hold an empty argument; lists of names and paths drop blank lines.
            if (isArgv) {
              while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
            } else lines = lines.map((l) => l.trim()).filter(Boolean);
            onChange(spec.path, lines.length === 0 && spec.optional ? undefined : lines);
          }}
        />
      )}
    </Field>
  );
}

function StatusesInput({ spec, value, error, onChange }: { spec: Extract<FieldSpec, { kind: 'statuses' }>; value: unknown; error: string | undefined; onChange: InputProps['onChange'] }) {
  const [text, setText] = useText(value, statusesOf);
  return (
    <Field label={spec.label} error={error} {...(spec.hint ? { hint: spec.hint } : {})}>
      {(p) => (
        <input
          {...p}
          type="text"
          inputMode="numeric"
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            const parts = e.target.value
              .split(/[\s,]+/)
              .filter(Boolean)
              .map((x) => (/^\d+$/.test(x) ? Number(x) : x));
            onChange(spec.path, parts.length === 0 && spec.optional ? undefined : parts);
          }}
        />
      )}
    </Field>
  );
}

function HeadersInput({ spec, value, error, onChange }: { spec: Extract<FieldSpec, { kind: 'headers' }>; value: unknown; error: string | undefined; onChange: InputProps['onChange'] }) {
  const [text, setText] = useText(value, headersOf);
  return (
    <Field label={spec.label} error={error} {...(spec.hint ? { hint: spec.hint } : {})}>
      {(p) => (
        <textarea
          {...p}
          className="mono"
          rows={2}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            const out: Record<string, string> = {};
            for (const line of e.target.value.split('\n')) {
              if (!line.trim()) continue;
              const i = line.indexOf(':');
              if (i < 0) out[line.trim()] = '';
              else out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
            }
            onChange(spec.path, Object.keys(out).length ? out : undefined);
          }}
        />
      )}
    </Field>
  );
}
