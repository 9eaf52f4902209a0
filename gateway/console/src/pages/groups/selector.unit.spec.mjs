// The console's explanation of membership must agree with the policy service's rule (the selector
// grammar itself is the service's, from @patchbay/contracts; its own tests are there).
// Run: node --test gateway/console/src/pages/groups/selector.unit.spec.mjs (Node 24 strips the types).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector } from '@patchbay/contracts';
import { describeRequirement, explainMembership, definitionView } from './selector.ts';

const ep = (labels, extra = {}) => ({ id: 'e1', retired: false, labels: Object.entries(labels).map(([key, value]) => ({ key, value })), ...extra });

test('reads every operator with the service\'s grammar, and says each in words', () => {
  const { requirements } = parseSelector('env=prod, role in (web,db), !legacy, tier!=low, zone notin (b), gpu, a==b');
  assert.deepEqual(
    requirements.map(describeRequirement),
    ['env is prod', 'role is one of db, web', 'has no label legacy', 'tier is not low (or absent)', 'zone is none of b (or absent)', 'has the label gpu', 'a is b'],
  );
  assert.deepEqual(requirements, [
    { op: 'eq', key: 'env', value: 'prod' },
    { op: 'in', key: 'role', values: ['db', 'web'] },
    { op: 'not-exists', key: 'legacy' },
    { op: 'neq', key: 'tier', value: 'low' },
    { op: 'notin', key: 'zone', values: ['b'] },
    { op: 'exists', key: 'gpu' },
    { op: 'eq', key: 'a', value: 'b' },
  ]);
});

const table = [
  ['selector matches', { selector: 'env=prod,role in (db,web)' }, ep({ env: 'prod', role: 'web' }), true, /every requirement/],
  ['a requirement fails, naming the actual value', { selector: 'env=prod' }, ep({ env: 'dev' }), false, /env is prod, but env is dev/],
  ['a label is absent', { selector: 'env=prod' }, ep({}), false, /has no label env/],
  ['!= holds when absent', { selector: 'env!=prod' }, ep({}), true, /every requirement/],
  ['notin holds when absent', { selector: 'env notin (prod)' }, ep({}), true, /every requirement/],
  ['static member without selector', { members: ['e1'] }, ep({}), true, /static member/],
  ['exclusion wins over a static member', { selector: 'env=prod', members: ['e1'], exclusions: ['e1'] }, ep({ env: 'prod' }), false, /exclusion/],
  ['retired is out', { selector: 'env=prod' }, ep({ env: 'prod' }, { retired: true }), false, /retired/],
  ['no selector, not a member', {}, ep({ env: 'prod' }), false, /no selector/],
];
for (const [name, def, endpoint, member, summary] of table) {
  test(`membership: ${name}`, () => {
    const v = explainMembership(definitionView(def), endpoint);
    assert.equal(v.known, true);
    assert.equal(v.member, member);
    assert.match(v.summary, summary);
  });
}

test('an unreadable selector: says it cannot tell', () => {
  const v = explainMembership(definitionView({ selector: 'env=~prod' }), ep({ env: 'prod' }));
  assert.equal(v.known, false);
  assert.match(v.why, /cannot tell/);
});
