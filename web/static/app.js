// Kibitz Box call app: wires the hub connection, room presence, media mesh
// and the screens together. Everything protocol-level lives in
// protocol.js, room.js and mesh.js; this file only decides what to show.

import { LocalMedia } from './media.js';
import { videoFits, videoLimits } from './air.js';
import { Mesh } from './mesh.js';
import { Hub, meshConfig, parseBlob, roomFromHash } from './protocol.js';
import { Room } from './room.js';
import { byId, setIcon } from './ui/dom.js';
import { message, showMessage } from './ui/messages.js';
import { Panel } from './ui/panel.js';
import { Prejoin } from './ui/prejoin.js';
import { TileGrid } from './ui/tiles.js';

/**
 * @typedef {{
 *   blob: string,
 *   room: string,
 *   roomCap: number,
 *   airBudgetKbps: number,
 *   appUrl: string,
 * }} Config
 */

const DEFAULT_ROOM = 'lobby';
const DEFAULT_CAP = 8;
const SPEAKING_LEVEL = 0.03;

/**
 * Loads the hub blob and room settings: the box's /api/join, or a
 * `?galaxy=` blob in the URL (a Kibitz link).
 * @returns {Promise<Config>}
 */
async function loadConfig() {
  const urlBlob = new URLSearchParams(location.search).get('galaxy');
  /** @type {any} */
  let api = null;
  try {
    const res = await fetch('/api/join', { cache: 'no-store' });
    if (res.ok) api = await res.json();
  } catch (err) {
    if (!urlBlob) throw err;
  }
  const blob = urlBlob || (api && typeof api.blob === 'string' ? api.blob : '');
  if (!blob) throw new Error('the box did not send its call details');
  const cap = api && Number.isInteger(api.room_cap) && api.room_cap > 0 ? api.room_cap : DEFAULT_CAP;
  return {
    blob,
    room: (api && typeof api.room === 'string' && api.room) || DEFAULT_ROOM,
    roomCap: cap,
    airBudgetKbps: api && Number.isInteger(api.air_budget_kbps) && api.air_budget_kbps > 0 ? api.air_budget_kbps : 0,
    appUrl: (api && typeof api.app_url === 'string' && api.app_url) || location.origin + '/',
  };
}

/**
 * Shows one screen, hides the others.
 * @param {'loading'|'fatal'|'prejoin'|'call'} name
 */
function showScreen(name) {
  for (const s of ['loading', 'fatal', 'prejoin', 'call']) byId(s, HTMLElement).hidden = s !== name;
  document.body.dataset.screen = name;
}

/**
 * A problem that stops the app, with what to do.
 * @param {string} kind
 * @param {import('./ui/messages.js').Action[]} [actions]
 * @param {{url?: string}} [ctx]
 */
function fatal(kind, actions = [], ctx = {}) {
  showScreen('fatal');
  showMessage(byId('fatal-notice', HTMLElement), message(kind, ctx), actions);
}

class App {
  /** @param {Config} config */
  constructor(config) {
    this.config = config;
    this.galaxy = parseBlob(config.blob);
    this.roomName = roomFromHash(location.hash) || config.room;
    this.inCall = false;
    this.local = new LocalMedia();
    /** @type {Map<string, number>} peer id → last audio level */
    this.levels = new Map();
    /** @type {MediaStreamTrack|null} */
    this.selfCamTrack = null;
    /** @type {MediaStream|null} */
    this.selfCamStream = null;
    /** @type {MediaStreamTrack|null} */
    this.selfScreenTrack = null;
    /** @type {MediaStream|null} */
    this.selfScreenStream = null;
    this.renderQueued = false;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.toastTimer = undefined;
    /** @type {import('./mesh.js').ChatLine[]} */
    this.chat = [];
    this.warnedNewer = false;
    this.videoFullShown = false;

    this.hub = new Hub(this.galaxy, {
      onOpen: (id) => this.onHubOpen(id),
      onFrom: (from, payload) => this.room.handle(from, payload),
      onStatus: () => this.onHubStatus(),
      onNotice: (text) => showMessage(byId('banner', HTMLElement), message('notice', { text })),
      onRefused: (room, why) => this.onRefused(room, why),
      onAir: (kbps) => {
        this.config.airBudgetKbps = kbps;
        this.fitAir();
      },
    });
    this.room = new Room(this.hub, {
      onRoster: () => this.onRoster(),
      onSig: (from, payload) => this.mesh.handleSig(from, payload),
      onNewerVersion: () => {
        if (!this.warnedNewer) this.toast('newer');
        this.warnedNewer = true;
      },
      // A peer whose media link is connected is alive even if its page is
      // frozen (no beacons): the hub's bye tells when it is really gone.
      linkUp: (id) => this.mesh.links.get(id)?.pc.connectionState === 'connected',
    });
    this.mesh = new Mesh({
      config: meshConfig(this.galaxy),
      local: this.local,
      signal: (to, payload) => this.hub.send(to, payload),
      onChange: () => this.render(),
      onChat: (line) => this.addChat(line),
      onLinkDead: (id) => this.room.remove(id),
    });
    this.tiles = new TileGrid(byId('grid', HTMLElement), byId('stage', HTMLElement));
    this.panel = new Panel({
      onSend: (text) => {
        const line = this.mesh.sendChat(text);
        if (line) this.addChat(line);
      },
      onToggle: () => this.renderControls(),
    });
    this.prejoin = new Prejoin({
      onJoin: (name, mic, cam) => this.join(name, mic, cam),
      onRoom: (room) => {
        location.hash = room;
      },
      standing: () => this.standingNotice(),
    });
    this.bindControls();
    window.addEventListener('hashchange', () => this.switchRoom(roomFromHash(location.hash) || this.config.room));
    window.addEventListener('pagehide', () => this.shutdown());
    // Back from the back/forward cache everything was shut down: start fresh.
    window.addEventListener('pageshow', (e) => {
      if (e.persisted) location.reload();
    });
    // Browsers that blocked autoplay (no mic, iOS) play remote audio after a tap.
    document.addEventListener('click', () => this.tiles.resumeAudio());
    setInterval(() => {
      if (this.inCall) this.mesh.setRoster([...this.room.members.keys()]);
    }, 2500);
    setInterval(() => this.pollLevels(), 400);
  }

  start() {
    this.hub.join(this.roomName);
    this.hub.start();
    this.showRoom();
    showScreen('prejoin');
    this.prejoin.startPreview();
  }

  showRoom() {
    byId('room-chip', HTMLElement).hidden = false;
    byId('room-name', HTMLElement).textContent = this.roomName;
    document.title = `#${this.roomName} · Kibitz Box`;
    this.prejoin.setRoom(this.roomName, this.hub.status === 'open');
    byId('invite', HTMLButtonElement).hidden = false;
  }

  /** @param {string} id */
  onHubOpen(id) {
    this.room.onHubOpen();
    if (this.inCall) this.mesh.setSelf(id);
    this.prejoin.setRoom(this.roomName, true);
  }

  onHubStatus() {
    const s = this.hub.status;
    const banner = byId('banner', HTMLElement);
    if (s === 'open') {
      banner.hidden = true;
      this.prejoin.setNotice(this.standingNotice());
    } else if (s === 'reconnecting') {
      showMessage(banner, message('reconnecting'));
    } else if (s === 'unreachable') {
      showMessage(banner, message('unreachable'), [{ label: 'Retry now', run: () => this.hub.connect() }]);
    }
    this.prejoin.setRoom(this.roomName, s === 'open');
  }

  /**
   * The hub kept us out of a room: locked or ended by the operator, or we
   * were removed.
   * @param {string} room
   * @param {string} why
   */
  onRefused(room, why) {
    if (why === 'kicked') {
      this.leave(false);
      fatal('kicked');
      return;
    }
    if (room && room !== this.roomName) return;
    if (this.inCall) this.leave(true);
    this.prejoin.setRefusal(message(why === 'ended' ? 'ended' : 'locked', { room }));
  }

  /** @param {string} room */
  switchRoom(room) {
    if (room === this.roomName) return;
    if (this.inCall) this.leave(false);
    this.roomName = room;
    this.prejoin.setRefusal(null);
    this.hub.join(room);
    if (this.hub.status === 'open') this.room.onHubOpen();
    this.showRoom();
    this.prejoin.setNotice(this.standingNotice());
  }

  /**
   * @param {string} name
   * @param {string} micDevice
   * @param {string} camDevice
   */
  async join(name, micDevice, camDevice) {
    if (this.inCall) return;
    if (this.room.members.size >= this.config.roomCap) {
      this.prejoin.setBlocker(message('full', { cap: this.config.roomCap, room: this.roomName }));
      return;
    }
    this.prejoin.stopPreview();
    this.local.micDevice = micDevice;
    this.local.camDevice = camDevice;
    this.local.ensureBase();
    this.inCall = true;
    this.room.update({ name, cam: false, mic: false, screen: false });
    showScreen('call');
    // The mic is captured now (disabled) so it can be unmuted without a
    // prompt; without one the audio lane carries silence.
    await this.local.openMic();
    if (!this.inCall) return;
    this.mesh.setSelf(this.hub.selfId);
    this.room.enter();
    this.mesh.setRoster([...this.room.members.keys()]);
    this.fitAir();
    this.render();
  }

  /**
   * Whether the air budget has room for our camera: every other member
   * with a camera on, plus us.
   * @returns {boolean}
   */
  videoRoom() {
    const cams = [...this.room.members.values()].filter((m) => m.cam).length;
    return videoFits(this.config.airBudgetKbps * 1000, this.room.members.size + 1, cams + 1);
  }

  /**
   * The join screen's standing notice: a device problem, else whether the
   * air has room for our video (a hub reconnect or a finished preview must
   * not wipe the latter).
   * @returns {import('./ui/messages.js').Message|null}
   */
  standingNotice() {
    if (this.prejoin.problem) return message(this.prejoin.problem);
    this.videoFullShown = !this.inCall && !this.videoRoom();
    return this.videoFullShown ? message('videofull') : null;
  }

  /** Sizes our outgoing video for the room and the air budget. */
  fitAir() {
    const people = this.room.members.size + (this.inCall ? 1 : 0);
    this.mesh.setVideoLimits(videoLimits(this.config.airBudgetKbps * 1000, people));
  }

  /** @param {boolean} showPrejoin */
  leave(showPrejoin) {
    if (!this.inCall) return;
    this.inCall = false;
    this.room.leave();
    this.mesh.setSelf(null);
    this.local.stopCaptures();
    this.panel.close();
    this.onRoster();
    if (showPrejoin) {
      showScreen('prejoin');
      this.prejoin.setNotice({ kind: 'left', tone: 'info', title: 'You left the call', body: 'Join again whenever you like.' });
      this.prejoin.startPreview();
    }
  }

  /** Page teardown: say bye, hang up the media links, let the page close the rest. */
  shutdown() {
    this.room.close();
    this.mesh.dispose();
    this.hub.abandon();
  }

  bindControls() {
    const mic = byId('btn-mic', HTMLButtonElement);
    const cam = byId('btn-cam', HTMLButtonElement);
    const screen = byId('btn-screen', HTMLButtonElement);
    screen.hidden = !LocalMedia.canShareScreen() || matchMedia('(pointer: coarse)').matches;
    mic.addEventListener('click', async () => {
      const problem = await this.local.setMic(!this.local.micOn);
      if (problem) this.toast(problem);
      this.room.update({ mic: this.local.micOn });
      this.render();
    });
    cam.addEventListener('click', async () => {
      const on = !this.local.camera;
      if (on && !this.videoRoom()) {
        this.toast('videofull');
        return;
      }
      cam.disabled = true;
      let problem = await this.local.setCamera(on);
      // A camera still being released (the preview) can fail to start once.
      if (problem === 'busy' || problem === 'failed') {
        await new Promise((r) => setTimeout(r, 700));
        problem = await this.local.setCamera(on);
      }
      cam.disabled = false;
      if (problem) this.toast(problem);
      this.room.update({ cam: !!this.local.camera });
      this.render();
    });
    screen.addEventListener('click', async () => {
      const stop = () => {
        this.local.setScreen(false, stop);
        this.room.update({ screen: false });
        this.render();
      };
      const problem = await this.local.setScreen(!this.local.screen, stop);
      if (problem && problem !== 'denied') this.toast(problem === 'unsupported' ? 'noscreen' : problem);
      this.room.update({ screen: !!this.local.screen });
      this.render();
    });
    byId('btn-chat', HTMLButtonElement).addEventListener('click', () => this.panel.toggle('chat'));
    byId('btn-people', HTMLButtonElement).addEventListener('click', () => this.panel.toggle('people'));
    byId('btn-leave', HTMLButtonElement).addEventListener('click', () => this.leave(true));
    byId('invite', HTMLButtonElement).addEventListener('click', () => this.invite());
    // Keyboard: M mutes/unmutes, V turns the camera on/off (not while typing).
    document.addEventListener('keydown', (e) => {
      if (!this.inCall || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
      const target = /** @type {HTMLElement|null} */ (e.target);
      if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.isContentEditable)) return;
      if (e.key === 'm' || e.key === 'M') mic.click();
      if (e.key === 'v' || e.key === 'V') cam.click();
    });
    setIcon(byId('btn-chat', HTMLButtonElement), 'chat');
    setIcon(byId('btn-people', HTMLButtonElement), 'people');
    setIcon(byId('btn-leave', HTMLButtonElement), 'leave');
    setIcon(screen, 'screen');
    this.renderControls();
  }

  async invite() {
    const url = `${this.config.appUrl.replace(/#.*$/, '')}#${this.roomName}`;
    try {
      if (navigator.share && matchMedia('(pointer: coarse)').matches) {
        await navigator.share({ title: `Join #${this.roomName}`, url });
        return;
      }
      await navigator.clipboard.writeText(url);
      this.toastText('Link copied', url);
    } catch {
      this.toastText('Invite link', url);
    }
  }

  /** @param {string} kind */
  toast(kind) {
    const m = message(kind);
    this.toastText(m.title, m.body);
  }

  /**
   * @param {string} title
   * @param {string} body
   */
  toastText(title, body) {
    const t = byId('toast', HTMLElement);
    showMessage(t, { kind: 'toast', tone: 'info', title, body });
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  /** @param {import('./mesh.js').ChatLine} line */
  addChat(line) {
    this.chat.push(line);
    if (this.chat.length > 300) this.chat.shift();
    const name = line.mine ? this.room.self.name : this.room.members.get(line.from)?.name ?? 'Guest';
    this.panel.addLine({ ...line, name });
  }

  onRoster() {
    if (this.inCall) this.mesh.setRoster([...this.room.members.keys()]);
    const names = [...this.room.members.values()].map((m) => m.name);
    this.prejoin.setWho(names);
    // Say it before the guest taps Join, and take it back when a seat frees up.
    const full = !this.inCall && names.length >= this.config.roomCap;
    if (full !== !!this.prejoin.blocker) this.prejoin.setBlocker(full ? message('full', { cap: this.config.roomCap, room: this.roomName }) : null);
    // Before joining: say whether the air still has room for our video.
    const videoFull = !this.inCall && !this.videoRoom();
    if (videoFull !== this.videoFullShown) {
      this.videoFullShown = videoFull;
      this.prejoin.setNotice(videoFull ? message('videofull') : null);
    }
    this.fitAir();
    this.render();
  }

  async pollLevels() {
    if (!this.inCall) return;
    const stats = await this.mesh.stats();
    let changed = false;
    for (const [id, s] of Object.entries(stats)) {
      const was = (this.levels.get(id) ?? 0) > SPEAKING_LEVEL;
      this.levels.set(id, s.audioLevel);
      if (was !== s.audioLevel > SPEAKING_LEVEL) changed = true;
    }
    const selfWas = (this.levels.get('self') ?? 0) > SPEAKING_LEVEL;
    const selfLevel = this.local.level();
    this.levels.set('self', selfLevel);
    if (selfWas !== selfLevel > SPEAKING_LEVEL) changed = true;
    for (const id of this.room.members.keys()) if (this.tiles.screenFlowing(id) !== !!this.tiles.tiles.get(id + ':screen')) changed = true;
    if (changed) this.render();
  }

  /** Coalesces re-renders of the call screen. */
  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      this.renderNow();
    });
  }

  renderNow() {
    const count = this.room.members.size + (this.inCall ? 1 : 0);
    const countEl = byId('people-count', HTMLElement);
    countEl.hidden = count === 0;
    countEl.textContent = count === 1 ? '1 person' : `${count} people`;
    this.renderControls();
    if (!this.inCall) {
      this.tiles.render([]);
      return;
    }
    const cam = this.local.camera;
    if (cam !== this.selfCamTrack) {
      this.selfCamTrack = cam;
      this.selfCamStream = cam ? new MediaStream([cam]) : null;
    }
    const scr = this.local.screen;
    if (scr !== this.selfScreenTrack) {
      this.selfScreenTrack = scr;
      this.selfScreenStream = scr ? new MediaStream([scr]) : null;
    }
    /** @type {import('./ui/tiles.js').TileModel[]} */
    const people = [{
      id: 'self', name: this.room.self.name, avatar: '', self: true, cam: !!cam, mic: this.local.micOn,
      speaking: (this.levels.get('self') ?? 0) > SPEAKING_LEVEL,
      camera: this.selfCamStream, screen: this.selfScreenStream, screenOn: !!scr, audio: null, connecting: false,
    }];
    const members = [...this.room.members.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    for (const m of members) {
      const link = this.mesh.links.get(m.id);
      people.push({
        id: m.id, name: m.name, avatar: m.avatar, self: false, cam: m.cam, mic: m.meta.mic !== false,
        speaking: (this.levels.get(m.id) ?? 0) > SPEAKING_LEVEL,
        camera: link?.camera ?? null, screen: link?.screen ?? null,
        screenOn: m.meta.screen === true || this.tiles.screenFlowing(m.id),
        audio: link?.audio ?? null,
        connecting: !link || link.pc.connectionState !== 'connected',
      });
    }
    this.tiles.render(people);
    this.panel.setPeople(people.map((p) => ({ id: p.id, name: p.name, self: p.self, mic: p.mic, cam: p.cam })));
  }

  renderControls() {
    const mic = byId('btn-mic', HTMLButtonElement);
    const cam = byId('btn-cam', HTMLButtonElement);
    const screen = byId('btn-screen', HTMLButtonElement);
    const micOn = this.local.micOn;
    const camOn = !!this.local.camera;
    mic.setAttribute('aria-pressed', String(micOn));
    mic.classList.toggle('off', !micOn);
    setIcon(mic, micOn ? 'mic' : 'micOff');
    mic.querySelector('.lbl')?.replaceChildren(micOn ? 'Mute' : 'Unmute');
    cam.setAttribute('aria-pressed', String(camOn));
    cam.classList.toggle('off', !camOn);
    setIcon(cam, camOn ? 'cam' : 'camOff');
    cam.querySelector('.lbl')?.replaceChildren('Camera');
    screen.setAttribute('aria-pressed', String(!!this.local.screen));
    screen.querySelector('.lbl')?.replaceChildren(this.local.screen ? 'Stop share' : 'Share');
    byId('btn-chat', HTMLButtonElement).setAttribute('aria-pressed', String(this.panel.open && this.panel.tab === 'chat'));
    byId('btn-people', HTMLButtonElement).setAttribute('aria-pressed', String(this.panel.open && this.panel.tab === 'people'));
  }

  /** What the browser tests read: counts and states, no secrets. */
  debug() {
    return {
      hub: this.hub.status,
      hubSessions: this.hub.sessions,
      selfId: this.hub.selfId,
      room: this.roomName,
      inCall: this.inCall && this.room.inCall,
      cam: !!this.local.camera,
      micOn: this.local.micOn,
      toast: byId('toast', HTMLElement).hidden ? '' : byId('toast', HTMLElement).textContent ?? '',
      roster: [...this.room.members.values()].map((m) => ({ id: m.id, name: m.name, cam: m.cam })),
      links: [...this.mesh.links.values()].map((l) => ({ id: l.id, state: l.pc.connectionState, dialer: l.dialer })),
      pcCreated: this.mesh.pcCreated,
      negotiations: this.mesh.negotiations,
      chat: this.chat.map((l) => ({ from: l.from, text: l.text, mine: l.mine })),
      tiles: [...document.querySelectorAll('#grid .tile')].map((t) => /** @type {HTMLElement} */ (t).dataset.id ?? ''),
      notice: byId('prejoin-notice', HTMLElement).dataset.kind ?? '',
    };
  }
}

async function main() {
  if (typeof RTCPeerConnection === 'undefined') {
    fatal('nowebrtc');
    return;
  }
  if (!window.isSecureContext) {
    const url = `https://${location.host}/${location.hash}`;
    fatal('insecure', [{ label: 'Open the secure page', primary: true, run: () => { location.href = url; } }], { url: `https://${location.host}/` });
    return;
  }
  /** @type {Config} */
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    console.warn('loading the call details failed', err);
    fatal('unreachable', [{ label: 'Try again', primary: true, run: () => location.reload() }]);
    setTimeout(() => location.reload(), 5000);
    return;
  }
  let app;
  try {
    app = new App(config);
  } catch (err) {
    console.error(err);
    fatal('broken');
    return;
  }
  // Debug hooks for the browser tests; they expose no secrets.
  Object.assign(window, {
    __kibitz: {
      state: () => app.debug(),
      stats: () => app.mesh.stats(),
      // The media checks read the receivers and the own camera's size.
      link: (/** @type {string} */ id) => app.mesh.links.get(id),
      camera: () => app.local.camera,
    },
  });
  app.start();
}

main();
