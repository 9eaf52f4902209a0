import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { explainSelector, parseSelector, selectorMatches, SelectorSyntaxError } from './selector.js';

const labels = { env: 'prod', role: 'db', cluster: 'pg-1' };

describe('label selector: parsing and matching (table)', () => {
  const cases: Array<[selector: string, canonical: string, matches: boolean]> = [
    ['env=prod', 'env=prod', true],
    ['env==prod', 'env=prod', true],
    ['env = prod', 'env=prod', true],
    ['env=staging', 'env=staging', false],
    ['env!=staging', 'env!=staging', true],
    ['env!=prod', 'env!=prod', false],
    ['missing!=x', 'missing!=x', true],
    ['role in (web,db)', 'role in (db,web)', true],
    ['role in (web)', 'role in (web)', false],
    ['role notin (web,cache)', 'role notin (cache,web)', true],
    ['role notin (db)', 'role notin (db)', false],
    ['missing notin (a)', 'missing notin (a)', true],
    ['missing in (a)', 'missing in (a)', false],
    ['cluster', 'cluster', true],
    ['legacy', 'legacy', false],
    ['!legacy', '!legacy', true],
    ['!env', '!env', false],
    ['env=prod,role in (db,web),!legacy', 'env=prod,role in (db,web),!legacy', true],
    ['env=prod , role in ( db , web ) , !legacy', 'env=prod,role in (db,web),!legacy', true],
    ['env=prod,role=web', 'env=prod,role=web', false],
    ['example.com/tier=gold', 'example.com/tier=gold', false],
  ];
  for (const [selector, canonical, matches] of cases) {
    it(`${JSON.stringify(selector)} → ${canonical}: ${matches ? 'matches' : 'does not match'}`, () => {
      const s = parseSelector(selector);
      assert.equal(s.text, canonical);
      assert.equal(selectorMatches(s, labels), matches);
      // The canonical form parses to itself.
      assert.equal(parseSelector(s.text).text, canonical);
    });
  }
});

describe('label selector: errors point at the column', () => {
  const cases: Array<[selector: string, column: number, problem: RegExp]> = [
    ['', 1, /empty selector/],
    ['env=', 5, /expected a label value, found end of selector/],
    ['env=prod,', 10, /expected a label key, found end of selector/],
    ['env=prod,,role=db', 10, /expected a label key, found ","/],
    ['role in db', 9, /expected "\(" after "in", found "db"/],
    ['role in (db', 12, /expected "," or "\)" in the value list, found end of selector/],
    ['role in ()', 10, /expected a label value, found "\)"/],
    ['role within (db)', 6, /unknown operator "within"/],
    ['env=prod role=db', 10, /expected "," between requirements, found "role"/],
    ['env=pr$d', 7, /unexpected character "\$"/],
    ['env=prod;rm', 9, /unexpected character ";"/],
    ['-env=prod', 1, /invalid label key "-env"/],
    ['env=-prod', 5, /invalid label value "-prod"/],
    ['!env=prod', 5, /expected "," between requirements, found "="/],
    ['env=(prod)', 5, /expected a label value, found "\("/],
    ['in=prod', 1, /found the operator "in"/],
  ];
  for (const [selector, column, problem] of cases) {
    it(`${JSON.stringify(selector)}: column ${column}`, () => {
      assert.throws(
        () => parseSelector(selector),
        (e: unknown) => {
          assert.ok(e instanceof SelectorSyntaxError);
          assert.equal(e.code, 'SELECTOR_INVALID');
          assert.equal(e.column, column, e.message);
          assert.match(e.message, problem);
          assert.match(e.message, new RegExp(`at column ${column}\\n`));
          // The caret sits under the offending column.
          const lines = e.message.split('\n');
          assert.equal(lines[2]!.indexOf('^'), 2 + column - 1);
          return true;
        },
      );
    });
  }
});

describe('label selector: properties', () => {
  const word = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/);
  it('an equality requirement matches exactly the labels that have that value', () => {
    fc.assert(
      fc.property(word, word, fc.dictionary(word, word), (k, v, extra) => {
        const s = parseSelector(`${k}=${v}`);
        assert.equal(selectorMatches(s, { ...extra, [k]: v }), true);
        assert.equal(selectorMatches(s, { ...extra, [k]: `${v}x` }), false);
      }),
    );
  });
  it('in/notin are complements; parsing never throws anything but SelectorSyntaxError', () => {
    fc.assert(
      fc.property(word, fc.array(word, { minLength: 1, maxLength: 4 }), fc.option(word), (k, values, actual) => {
        const l = actual === null ? {} : { [k]: actual };
        const inS = parseSelector(`${k} in (${values.join(',')})`);
        const notS = parseSelector(`${k} notin (${values.join(',')})`);
        assert.notEqual(selectorMatches(inS, l), selectorMatches(notS, l));
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        try {
          parseSelector(text);
        } catch (e) {
          assert.ok(e instanceof SelectorSyntaxError, String(e));
        }
      }),
    );
  });
  it('explains each requirement with the actual value', () => {
    const v = explainSelector(parseSelector('env=prod,role in (web),!legacy'), { env: 'prod', role: 'db' });
    assert.deepEqual(v, [
      { requirement: 'env=prod', matched: true, actual: 'prod' },
      { requirement: 'role in (web)', matched: false, actual: 'db' },
      { requirement: '!legacy', matched: true },
    ]);
  });
});
