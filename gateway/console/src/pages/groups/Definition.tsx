import { parseSelector } from '@patchbay/contracts';
import { describeRequirement, type GroupDefinitionView } from './selector';

/** A selector shown as its text and, below it, each requirement in words. */
export function SelectorText({ selector }: { selector: string | undefined }) {
  if (selector === undefined) return <span className="muted">none (static members only)</span>;
  let words: string[] | undefined;
  try {
    words = parseSelector(selector).requirements.map(describeRequirement);
  } catch {
    words = undefined;
  }
  return (
    <>
      <code>{selector}</code>
      {words ? (
        <ul className="requirements">
          {words.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

/** Static members or exclusions: a short list, or the first ones and a count. */
export function IdList({ ids, empty }: { ids: readonly string[]; empty: string }) {
  if (ids.length === 0) return <span className="muted">{empty}</span>;
  const shown = ids.slice(0, 20);
  return (
    <>
      <ul className="inline-list">
        {shown.map((id) => (
          <li key={id}>
            <code>{id}</code>
          </li>
        ))}
      </ul>
      {ids.length > shown.length ? <span className="muted">and {ids.length - shown.length} more</span> : null}
    </>
  );
}

export function DefinitionList({ def, tier, description }: { def: GroupDefinitionView; tier: string; description?: string | undefined }) {
  return (
    <dl className="kv">
      <dt>Tier</dt>
      <dd>
        <span className="badge tone-busy">{tier}</span>
      </dd>
      {description ? (
        <>
          <dt>Description</dt>
          <dd>{description}</dd>
        </>
      ) : null}
      <dt>Selector</dt>
      <dd>
        <SelectorText selector={def.selector} />
      </dd>
      <dt>Static members</dt>
      <dd>
        <IdList ids={def.members} empty="none" />
      </dd>
      <dt>Exclusions</dt>
      <dd>
        <IdList ids={def.exclusions} empty="none" />
      </dd>
    </dl>
  );
}
