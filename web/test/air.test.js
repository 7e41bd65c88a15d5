// The app's side of the air budget: admission and per-stream limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { videoFits, videoLimits, VIDEO_FLOOR_BPS } from '../static/air.js';

test('video admission follows the floor (same numbers as internal/air)', () => {
  assert.equal(videoFits(3_000_000, 4, 4), true);
  assert.equal(videoFits(3_000_000, 5, 5), false);
  assert.equal(videoFits(3_000_000, 5, 3), true);
  assert.equal(videoFits(0, 30, 30), true);
  assert.equal(videoFits(100_000, 1, 1), true);
});

test('each stream gets a fair part of the budget, smaller pictures for smaller parts', () => {
  assert.equal(videoLimits(0, 4), null);
  assert.equal(videoLimits(3_000_000, 1), null);
  const two = videoLimits(3_000_000, 2);
  const four = videoLimits(3_000_000, 4);
  assert.ok(two && four);
  assert.equal(two.maxBitrate, 1_460_000); // 3 M / 2 people / 1 stream − voice
  assert.equal(two.scaleResolutionDownBy, 1);
  assert.equal(four.maxBitrate, 210_000); // 3 M / 4 / 3 − voice
  assert.equal(four.scaleResolutionDownBy, 2); // 320×240 from a 640×480 camera
  assert.equal(videoLimits(3_000_000, 3)?.scaleResolutionDownBy, 1); // 460 kb/s: 640×480
  assert.equal(four.maxFramerate, 15);
  // The whole mesh fits the budget.
  assert.ok(4 * 3 * (four.maxBitrate + 40_000) <= 3_000_000);
  const crowded = videoLimits(1_000_000, 8);
  assert.equal(crowded?.maxBitrate, VIDEO_FLOOR_BPS, 'never below the floor');
});
