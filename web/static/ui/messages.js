// Every failure a guest can hit, in plain words, each with the next step.

import { el } from './dom.js';

/**
 * @typedef {{label: string, run: () => void, primary?: boolean}} Action
 * @typedef {{kind: string, title: string, body: string, tone: 'error'|'warn'|'info'}} Message
 */

/** @param {string} s */
function isApple(s) {
  return /iPhone|iPad|iPod|Macintosh/.test(s);
}

/**
 * @param {string} kind
 * @param {{cap?: number, room?: string, url?: string, text?: string}} [ctx]
 * @returns {Message}
 */
export function message(kind, ctx = {}) {
  const apple = isApple(navigator.userAgent);
  switch (kind) {
    case 'denied':
      return {
        kind, tone: 'warn',
        title: 'Camera and microphone are blocked',
        body: apple
          ? 'Tap “aA” in the address bar, then Website Settings, and allow Camera and Microphone. Then reload this page. You can still join to listen and chat.'
          : 'Tap the icon left of the address, allow Camera and Microphone, then reload this page. You can still join to listen and chat.',
      };
    case 'nodevice':
      return {
        kind, tone: 'info',
        title: 'No camera or microphone found',
        body: 'This device has no camera or microphone we can use. You can still join: others will see your name, and you can hear them and chat.',
      };
    case 'busy':
      return {
        kind, tone: 'warn',
        title: 'The camera is busy',
        body: 'Another app or tab is using the camera or microphone. Close it, then try again.',
      };
    case 'insecure':
      return {
        kind, tone: 'error',
        title: 'Open the secure address first',
        body: `Camera and calls only work on the https:// address${ctx.url ? ` (${ctx.url})` : ''}. Your browser will warn about the certificate because the box is offline: tap Advanced → Proceed (Safari: Show Details → visit this website).`,
      };
    case 'unreachable':
      return {
        kind, tone: 'error',
        title: 'Can’t reach the call box',
        body: 'Check that you are on the box’s Wi-Fi. If this phone switched to mobile data, turn mobile data off. We keep trying in the background.',
      };
    case 'reconnecting':
      return { kind, tone: 'warn', title: 'Reconnecting…', body: 'The connection to the box dropped. You will be back in a moment.' };
    case 'full':
      return {
        kind, tone: 'warn',
        title: 'This room is full',
        body: `${ctx.cap ?? 8} people are already in ${ctx.room ? '#' + ctx.room : 'this room'}, which is all the Wi-Fi can carry. Wait for someone to leave, or start another room below.`,
      };
    case 'nowebrtc':
      return {
        kind, tone: 'error',
        title: 'This browser can’t make calls',
        body: apple
          ? 'Open this page in Safari. Pages opened inside other apps or the Wi-Fi sign-in sheet can’t use the camera.'
          : 'Open this page in Chrome, Firefox, Edge or Safari. Pages opened inside other apps or the Wi-Fi sign-in window can’t use the camera.',
      };
    case 'noscreen':
      return { kind, tone: 'info', title: 'Screen sharing is not available', body: 'This browser can’t share its screen. Try a laptop with Chrome, Edge or Firefox.' };
    case 'videofull':
      return {
        kind, tone: 'info',
        title: 'Video is full in this room — join with audio',
        body: 'The box’s Wi-Fi carries no more pictures in this room without freezing everyone’s. You can talk, listen and chat; turn your camera on when someone turns theirs off.',
      };
    case 'locked':
      return {
        kind, tone: 'warn',
        title: 'This room is locked',
        body: `The organizer locked ${ctx.room ? '#' + ctx.room : 'this room'}: nobody new can join. Ask them to open it, or start another room below.`,
      };
    case 'ended':
      return { kind, tone: 'info', title: 'The call was ended', body: 'The organizer ended this call for everyone. Thanks for joining!' };
    case 'kicked':
      return { kind, tone: 'error', title: 'You were removed from the call', body: 'The organizer removed you. You can’t rejoin for a while.' };
    case 'notice':
      return { kind, tone: 'info', title: 'A message from the organizer', body: ctx.text ?? '' };
    case 'newer':
      return { kind, tone: 'info', title: 'A newer app is in this call', body: 'Someone uses a newer version. Everything should still work; reload when you are ready.' };
    default:
      return { kind, tone: 'error', title: 'Something went wrong', body: 'Reload the page. If it keeps happening, restart the box.' };
  }
}

/**
 * Renders a message into a container (replacing what was there).
 * @param {HTMLElement} box
 * @param {Message|null} msg
 * @param {Action[]} [actions]
 */
export function showMessage(box, msg, actions = []) {
  if (!msg) {
    box.hidden = true;
    box.replaceChildren();
    delete box.dataset.kind;
    return;
  }
  box.hidden = false;
  box.dataset.kind = msg.kind;
  box.dataset.tone = msg.tone;
  const parts = [el('strong', 'notice-title', msg.title), el('p', 'notice-body', msg.body)];
  if (actions.length) {
    const row = el('div', 'notice-actions');
    for (const a of actions) {
      const b = el('button', a.primary ? 'primary small' : 'secondary small', a.label);
      b.type = 'button';
      b.addEventListener('click', a.run);
      row.append(b);
    }
    parts.push(row);
  }
  box.replaceChildren(...parts);
}
