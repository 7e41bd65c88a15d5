// The glare rule decides which of two peers makes the WebRTC offer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialsTo } from '../static/mesh.js';

test('exactly one of two peers dials, comparing ids as strings', () => {
  /** @type {[string, string, boolean][]} */
  const cases = [['1', '2', true], ['2', '1', false], ['10', '9', true], ['9', '10', false], ['123', '1234', true]];
  for (const [a, b, want] of cases) {
    assert.equal(dialsTo(a, b), want, `${a} dials ${b}`);
    assert.equal(dialsTo(b, a), !want, `${b} dials ${a}`);
  }
  assert.equal(dialsTo('7', '7'), false);
});
