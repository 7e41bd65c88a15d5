// Sharing the box's air (docs/air.md): whether a room still has room for
// another video sender, and how big each video stream may be so that the
// whole mesh fits the relay's budget before the relay has to push back.

/** What a video stream needs to stay watchable, and a voice stream. */
export const VIDEO_FLOOR_BPS = 150_000;
export const AUDIO_BPS = 40_000;

/**
 * Whether a mesh call fits the budget with every video stream at its
 * floor: people each send voice to every other, videoSenders of them also
 * video. Count a newcomer in both to ask whether it may turn its camera on.
 * @param {number} budgetBps 0: no limit
 * @param {number} people
 * @param {number} videoSenders
 * @returns {boolean}
 */
export function videoFits(budgetBps, people, videoSenders) {
  if (budgetBps <= 0 || people < 2) return true;
  const others = people - 1;
  return videoSenders * others * VIDEO_FLOOR_BPS + people * others * AUDIO_BPS <= budgetBps;
}

/**
 * @typedef {{maxBitrate: number, scaleResolutionDownBy: number, maxFramerate: number}} VideoLimits
 */

/**
 * The encoder limits for one outgoing video stream in a room of people:
 * each sender's fair share of the budget, split over its people−1 streams,
 * less its voice. The picture shrinks with the share so that the encoder
 * can spend it (a 640×480 camera gets 640×480 from 450 kb/s, 427×320 from
 * 250 kb/s, 320×240 below; like libwebrtc's own bitrate limits per
 * resolution): a picture too small for its share leaves the budget unused,
 * one too big for it goes blocky. Below 300 kb/s the frame rate drops to
 * 15, so the picture degrades instead of freezing. null: no limit.
 * @param {number} budgetBps 0: no limit
 * @param {number} people
 * @returns {VideoLimits|null}
 */
export function videoLimits(budgetBps, people) {
  if (budgetBps <= 0 || people < 2) return null;
  const others = people - 1;
  const perStream = Math.max(VIDEO_FLOOR_BPS, Math.floor(budgetBps / people / others - AUDIO_BPS));
  let scale = 2;
  if (perStream >= 450_000) scale = 1;
  else if (perStream >= 250_000) scale = 1.5;
  return { maxBitrate: perStream, scaleResolutionDownBy: scale, maxFramerate: perStream >= 300_000 ? 30 : 15 };
}
