// The screen before the call: self-preview, name, device pickers, who is
// already in, the Join button, and a way to another room.

import { classifyMediaError, listDevices } from '../media.js';
import { normalizeRoom } from '../protocol.js';
import { byId, hueFor, initials } from './dom.js';
import { message, showMessage } from './messages.js';

const NAME_KEY = 'kbz.name';
const ROOM_WORDS = ['amber', 'birch', 'coral', 'dusk', 'ember', 'fjord', 'grove', 'lunar', 'opal', 'tidal'];

/** @returns {string} a fresh room name like Kibitz makes them */
export function newRoomName() {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(11));
  let code = '';
  for (let i = 1; i < 11; i++) code += alphabet[bytes[i] % alphabet.length];
  return `${ROOM_WORDS[bytes[0] % ROOM_WORDS.length]}-${code}`;
}

/** @returns {string} */
function savedName() {
  try {
    return localStorage.getItem(NAME_KEY) ?? '';
  } catch {
    return '';
  }
}

export class Prejoin {
  /**
   * @param {{
   *   onJoin: (name: string, micDevice: string, camDevice: string) => void,
   *   onRoom: (room: string) => void,
   *   standing: () => import('./messages.js').Message|null,
   * }} handlers standing: the app's notice for when the preview has no
   *   problem of its own ("Video is full"), which a finished preview must
   *   not wipe
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.video = byId('preview', HTMLVideoElement);
    this.off = byId('preview-off', HTMLElement);
    this.msg = byId('preview-msg', HTMLElement);
    this.avatar = byId('preview-avatar', HTMLElement);
    this.name = byId('name', HTMLInputElement);
    this.micSelect = byId('mic-select', HTMLSelectElement);
    this.camSelect = byId('cam-select', HTMLSelectElement);
    this.notice = byId('prejoin-notice', HTMLElement);
    this.joinBtn = byId('join', HTMLButtonElement);
    this.who = byId('prejoin-who', HTMLElement);
    this.levelBar = byId('preview-level', HTMLElement);
    /** @type {MediaStream|null} */
    this.stream = null;
    /** @type {AudioContext|null} */
    this.ac = null;
    /** @type {AnalyserNode|null} */
    this.analyser = null;
    this.levelTimer = 0;
    /** @type {string|null} the media problem shown, if any */
    this.problem = null;
    /** @type {{msg: import('./messages.js').Message|null, actions: import('./messages.js').Action[]}} */
    this.shown = { msg: null, actions: [] };
    /** @type {import('./messages.js').Message|null} */
    this.blocker = null;
    /** @type {import('./messages.js').Message|null} the hub's refusal of the room (locked, ended) */
    this.refusal = null;

    this.name.value = savedName();
    this.updateAvatar();
    this.name.addEventListener('input', () => this.updateAvatar());
    this.joinBtn.addEventListener('click', () => this.join());
    this.name.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.join();
    });
    this.micSelect.addEventListener('change', () => this.startPreview());
    this.camSelect.addEventListener('change', () => this.startPreview());
    byId('room-form', HTMLFormElement).addEventListener('submit', (e) => {
      e.preventDefault();
      const room = normalizeRoom(byId('room-input', HTMLInputElement).value);
      if (room) this.handlers.onRoom(room);
    });
    byId('new-room', HTMLButtonElement).addEventListener('click', () => this.handlers.onRoom(newRoomName()));
  }

  updateAvatar() {
    this.avatar.textContent = initials(this.name.value || 'Guest');
    this.avatar.style.setProperty('--hue', String(hueFor('self')));
  }

  /**
   * @param {string} room
   * @param {boolean} canJoin
   */
  setRoom(room, canJoin) {
    byId('prejoin-title', HTMLElement).textContent = `Join #${room}`;
    this.joinBtn.textContent = canJoin ? 'Join now' : 'Connecting…';
    this.joinBtn.disabled = !canJoin;
  }

  /**
   * Shows who is already in the call.
   * @param {string[]} names
   */
  setWho(names) {
    if (names.length === 0) this.who.textContent = 'Nobody is here yet. Be the first!';
    else if (names.length <= 3) this.who.textContent = `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} in the call.`;
    else this.who.textContent = `${names.slice(0, 2).join(', ')} and ${names.length - 2} others are in the call.`;
  }

  /**
   * Shows a notice (a media problem, "you left"); a blocker (room full)
   * stays in front of it until it is cleared.
   * @param {import('./messages.js').Message|null} msg
   * @param {import('./messages.js').Action[]} [actions]
   */
  setNotice(msg, actions = []) {
    this.shown = { msg, actions };
    if (this.blocker) showMessage(this.notice, this.blocker);
    else if (this.refusal) showMessage(this.notice, this.refusal);
    else showMessage(this.notice, msg, actions);
  }

  /**
   * Sets or clears the hub's refusal of the room (locked or ended by the
   * operator). It stays in front of the media notices, which the preview
   * sets and clears when the camera starts, often after the refusal came.
   * @param {import('./messages.js').Message|null} msg
   */
  setRefusal(msg) {
    this.refusal = msg;
    this.setNotice(this.shown.msg, this.shown.actions);
  }

  /**
   * Sets or clears the notice that stops joining (room full).
   * @param {import('./messages.js').Message|null} msg
   */
  setBlocker(msg) {
    this.blocker = msg;
    this.setNotice(this.shown.msg, this.shown.actions);
  }

  join() {
    if (this.joinBtn.disabled) return;
    const name = this.name.value.trim().slice(0, 40) || 'Guest';
    try {
      localStorage.setItem(NAME_KEY, name);
    } catch {
      // private mode: the name just isn't remembered
    }
    this.handlers.onJoin(name, this.micSelect.value, this.camSelect.value);
  }

  /** Starts (or restarts with the picked devices) the self-preview. */
  async startPreview() {
    this.stopPreview();
    if (!navigator.mediaDevices?.getUserMedia) return;
    const mic = this.micSelect.value;
    const cam = this.camSelect.value;
    /** @type {MediaStream|null} */
    let stream = null;
    /** @type {unknown} */
    let firstErr = null;
    // Ask for both; if that fails, try each alone so a laptop without a
    // camera still gets its mic (and the message says which is missing).
    for (const c of [{ audio: true, video: true }, { audio: true, video: false }, { audio: false, video: true }]) {
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: c.audio ? (mic ? { deviceId: { exact: mic } } : true) : false,
          video: c.video ? (cam ? { deviceId: { exact: cam } } : { facingMode: 'user', width: { ideal: 640 } }) : false,
        });
        break;
      } catch (err) {
        firstErr ??= err;
        if (classifyMediaError(err) === 'denied') break;
      }
    }
    if (!stream) {
      const problem = classifyMediaError(firstErr);
      this.problem = problem;
      this.off.hidden = false;
      this.msg.textContent = problem === 'denied' ? 'Camera blocked' : problem === 'nodevice' ? 'No camera' : 'Camera unavailable';
      this.setNotice(message(problem), [{ label: 'Try again', run: () => this.startPreview() }]);
      return;
    }
    this.stream = stream;
    const hasVideo = stream.getVideoTracks().length > 0;
    this.problem = hasVideo ? null : 'nodevice';
    this.video.srcObject = hasVideo ? stream : null;
    this.off.hidden = hasVideo;
    this.msg.textContent = hasVideo ? '' : 'No camera';
    this.setNotice(hasVideo ? this.handlers.standing() : message('nodevice'));
    this.startMeter(stream);
    await this.fillPickers();
  }

  /** @param {MediaStream} stream */
  startMeter(stream) {
    const track = stream.getAudioTracks()[0];
    if (!track) return;
    try {
      this.ac ??= new AudioContext();
      const src = this.ac.createMediaStreamSource(new MediaStream([track]));
      this.analyser = this.ac.createAnalyser();
      this.analyser.fftSize = 512;
      src.connect(this.analyser);
      const buf = new Float32Array(this.analyser.fftSize);
      this.levelTimer = window.setInterval(() => {
        if (!this.analyser) return;
        this.analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        const level = Math.min(1, Math.sqrt(sum / buf.length) * 4);
        this.levelBar.style.width = `${Math.round(level * 100)}%`;
      }, 100);
      // Autoplay rules keep the context suspended until the first tap.
      document.addEventListener('pointerdown', () => this.ac?.resume().catch(() => {}), { once: true });
    } catch {
      // no Web Audio: no level bar
    }
  }

  async fillPickers() {
    const { audio, video } = await listDevices();
    /**
     * @param {HTMLSelectElement} sel
     * @param {MediaDeviceInfo[]} devs
     * @param {MediaStreamTrack|undefined} live
     * @param {string} fallback
     */
    const fill = (sel, devs, live, fallback) => {
      const current = sel.value || live?.getSettings().deviceId || '';
      sel.replaceChildren();
      if (devs.length === 0) sel.append(new Option('Default', ''));
      devs.forEach((d, i) => sel.append(new Option(d.label || `${fallback} ${i + 1}`, d.deviceId)));
      if ([...sel.options].some((o) => o.value === current)) sel.value = current;
    };
    fill(this.micSelect, audio, this.stream?.getAudioTracks()[0], 'Microphone');
    fill(this.camSelect, video, this.stream?.getVideoTracks()[0], 'Camera');
  }

  stopPreview() {
    clearInterval(this.levelTimer);
    this.analyser = null;
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.video.srcObject = null;
    this.levelBar.style.width = '0';
  }
}
