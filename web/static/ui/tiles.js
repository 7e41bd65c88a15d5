// The call grid: one tile per participant (video or avatar, chosen by the
// roster `cam` flag), plus a tile per active screen share. Tiles are keyed
// and reused, so a video element keeps its stream across updates.

import { el, hueFor, icon, initials } from './dom.js';

/**
 * @typedef {{
 *   id: string,
 *   name: string,
 *   avatar: string,
 *   self: boolean,
 *   cam: boolean,
 *   mic: boolean,
 *   speaking: boolean,
 *   camera: MediaStream|null,
 *   screen: MediaStream|null,
 *   screenOn: boolean,
 *   audio: MediaStream|null,
 *   connecting: boolean,
 * }} TileModel
 */

class Tile {
  /** @param {string} key */
  constructor(key) {
    this.root = el('div', 'tile');
    this.root.dataset.id = key;
    this.video = el('video');
    this.video.autoplay = true;
    this.video.muted = true;
    this.video.playsInline = true;
    this.avatar = el('div', 'avatar');
    this.label = el('div', 'label');
    this.name = el('span', 'name');
    this.micIcon = el('span', 'mic-off');
    this.micIcon.append(icon('micOff'));
    this.label.append(this.micIcon, this.name);
    this.status = el('div', 'tile-status');
    this.root.append(this.video, this.avatar, this.status, this.label);
    /** @type {MediaStream|null} */
    this.stream = null;
  }

  /**
   * @param {MediaStream|null} stream
   */
  bind(stream) {
    if (this.stream === stream) return;
    this.stream = stream;
    this.video.srcObject = stream;
    if (stream) this.video.play().catch(() => {});
  }
}

export class TileGrid {
  /**
   * @param {HTMLElement} grid
   * @param {HTMLElement} stage
   */
  constructor(grid, stage) {
    this.grid = grid;
    this.stage = stage;
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    /** @type {Map<string, HTMLAudioElement>} */
    this.audios = new Map();
    /** Hidden players for remote screen lanes, to learn whether frames flow. */
    /** @type {Map<string, HTMLVideoElement>} */
    this.screenProbes = new Map();
    new ResizeObserver(() => this.layout()).observe(stage);
  }

  /**
   * Whether a remote screen lane carries a real picture (the placeholder is 2×2).
   * @param {string} id
   * @returns {boolean}
   */
  screenFlowing(id) {
    const v = this.screenProbes.get(id);
    return !!v && v.videoWidth > 16;
  }

  /**
   * @param {TileModel[]} people
   */
  render(people) {
    /** @type {Set<string>} */
    const keep = new Set();
    /** @type {HTMLElement[]} */
    const order = [];
    for (const p of people) {
      keep.add(p.id);
      const t = this.tile(p.id);
      const showVideo = p.cam && !!p.camera;
      t.root.classList.toggle('self', p.self);
      t.root.classList.toggle('has-video', showVideo);
      t.root.classList.toggle('speaking', p.speaking && p.mic);
      t.root.classList.toggle('mic-muted', !p.mic);
      t.video.classList.toggle('mirror', p.self);
      t.bind(showVideo ? p.camera : null);
      t.name.textContent = p.self ? `${p.name} (you)` : p.name;
      t.avatar.textContent = p.avatar || initials(p.name);
      t.avatar.style.setProperty('--hue', String(hueFor(p.self ? 'self' : p.id)));
      t.status.textContent = p.connecting ? 'connecting…' : '';
      order.push(t.root);
      if (!p.self) {
        this.audioFor(p.id, p.audio);
        this.probeFor(p.id, p.screen);
      }
      if (p.screenOn && p.screen) {
        const key = p.id + ':screen';
        keep.add(key);
        const s = this.tile(key);
        s.root.classList.add('screen', 'has-video');
        s.bind(p.screen);
        s.name.textContent = p.self ? 'Your screen' : `${p.name}’s screen`;
        s.micIcon.hidden = true;
        order.push(s.root);
      }
    }
    for (const [key, t] of this.tiles) {
      if (!keep.has(key)) {
        t.bind(null);
        t.root.remove();
        this.tiles.delete(key);
      }
    }
    for (const [id, a] of this.audios) {
      if (!keep.has(id)) {
        a.srcObject = null;
        a.remove();
        this.audios.delete(id);
      }
    }
    for (const [id, v] of this.screenProbes) {
      if (!keep.has(id)) {
        v.srcObject = null;
        v.remove();
        this.screenProbes.delete(id);
      }
    }
    // A phone call of two: the other person fills the screen and we are a
    // small picture in the corner, like every phone call app.
    const pip = people.length === 2 && order.length === 2 && this.stage.clientWidth < 700;
    this.grid.classList.toggle('pip', pip);
    // Re-append only when the order changed, so playing videos are not disturbed.
    const current = [...this.grid.children];
    if (current.length !== order.length || current.some((c, i) => c !== order[i])) this.grid.replaceChildren(...order);
    this.layout();
  }

  /** @param {string} key */
  tile(key) {
    let t = this.tiles.get(key);
    if (!t) {
      t = new Tile(key);
      this.tiles.set(key, t);
    }
    return t;
  }

  /**
   * @param {string} id
   * @param {MediaStream|null} stream
   */
  audioFor(id, stream) {
    let a = this.audios.get(id);
    if (!a) {
      a = el('audio');
      a.autoplay = true;
      a.hidden = true;
      this.stage.append(a);
      this.audios.set(id, a);
    }
    if (a.srcObject !== stream) {
      a.srcObject = stream;
      if (stream) a.play().catch(() => {});
    }
  }

  /**
   * @param {string} id
   * @param {MediaStream|null} stream
   */
  probeFor(id, stream) {
    let v = this.screenProbes.get(id);
    if (!v) {
      v = el('video', 'probe');
      v.muted = true;
      v.autoplay = true;
      v.playsInline = true;
      this.stage.append(v);
      this.screenProbes.set(id, v);
    }
    if (v.srcObject !== stream) {
      v.srcObject = stream;
      if (stream) v.play().catch(() => {});
    }
  }

  /** Retries playing remote audio that autoplay rules held back. */
  resumeAudio() {
    for (const a of this.audios.values()) if (a.paused && a.srcObject) a.play().catch(() => {});
  }

  /** Picks the column count that makes 4:3 tiles as large as possible. */
  layout() {
    const n = this.grid.children.length - (this.grid.classList.contains('pip') ? 1 : 0);
    if (n === 0) return;
    const w = this.stage.clientWidth;
    const h = this.stage.clientHeight;
    let best = 1;
    let bestSize = 0;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const tw = w / cols;
      const th = h / rows;
      const size = Math.min(tw, (th * 4) / 3);
      if (size > bestSize + 1) {
        bestSize = size;
        best = cols;
      }
    }
    this.grid.style.setProperty('--cols', String(best));
    this.grid.style.setProperty('--rows', String(Math.ceil(n / best)));
    this.grid.dataset.n = String(n);
  }
}
