import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { selectorMatches, selectorProblem } from './selector.ts';

const labels = { app: 'web', tier: 'front' };

test('matchLabels: every pair must be present with that value', () => {
  assert.equal(selectorMatches({ matchLabels: { app: 'web' } }, labels), true);
  assert.equal(selectorMatches({ matchLabels: { app: 'web', tier: 'back' } }, labels), false);
  assert.equal(selectorMatches({ matchLabels: { team: 'a' } }, labels), false);
});

test('matchExpressions: In, NotIn, Exists, DoesNotExist as Kubernetes reads them', () => {
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['api'] }] }, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] }, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, labels), false);
  // A missing label is not in any set.
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels), false);
});

test('terms are ANDed; the empty selector selects everything', () => {
  assert.equal(selectorMatches({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }, labels), false);
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.string()), (l) => selectorMatches({}, l)));
});

test('a selector matches a label set exactly when it matches each of its own labels', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.stringMatching(/^[a-z]{1,3}$/), fc.stringMatching(/^[a-z]{0,2}$/)), fc.dictionary(fc.stringMatching(/^[a-z]{1,3}$/), fc.stringMatching(/^[a-z]{0,2}$/)), (want, have) => {
      const expected = Object.entries(want).every(([k, v]) => have[k] === v);
      return selectorMatches({ matchLabels: want }, have) === expected;
    }),
  );
});

test('selectorProblem: refuses what the API server refuses, naming what is allowed', () => {
  assert.equal(selectorProblem({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'a', operator: 'Exists' }] }), undefined);
  assert.equal(selectorProblem({}), undefined);
  assert.match(selectorProblem({ matchExpressions: [{ key: 'a', operator: 'In' }] }) ?? '', /In needs at least one value/);
  assert.match(selectorProblem({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }) ?? '', /takes no values/);
  assert.match(selectorProblem({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] }) ?? '', /not one of In, NotIn, Exists, DoesNotExist/);
  assert.match(selectorProblem({ matchLabels: { a: 1 } }) ?? '', /matchLabels must map/);
  assert.match(selectorProblem({ labels: {} }) ?? '', /unknown field labels/);
  assert.match(selectorProblem('app=web') ?? '', /must be an object/);
});
