// The hub connection: the Kibitz "galaxy" blob, the SDP answer the browser
// builds for the hub itself (the hub has no signaling server), and the `hub`
// data channel with its frames (id, join, peers, to/from, echo).
// Independent of the UI so it can be reused by other clients.

/**
 * @typedef {{host: string, port: number}} Endpoint
 * @typedef {{port: number, user: string, pass: string}} TurnSpec
 * @typedef {{
 *   version: 'g1'|'g2',
 *   ufrag: string,
 *   pwd: string,
 *   fingerprint: Uint8Array,
 *   turn: TurnSpec|null,
 *   endpoints: Endpoint[],
 * }} Galaxy
 * @typedef {'idle'|'connecting'|'open'|'reconnecting'|'unreachable'|'closed'} HubStatus
 */

// Blob secrets and hosts end up inside SDP lines: refuse anything that could
// inject lines or attributes.
const SAFE_TOKEN = /^[A-Za-z0-9+/=_.-]+$/;
const SAFE_HOST = /^[A-Za-z0-9.:-]+$/;

/**
 * Parses a g1/g2 blob (`g2|ufrag|pwd|fp|turnPort,user,pass|host~port|...`).
 * @param {string} raw
 * @returns {Galaxy} the parsed blob
 * @throws {Error} when the blob is unusable
 */
export function parseBlob(raw) {
  const parts = String(raw).trim().split('|');
  if (parts.length < 5) throw new Error('galaxy blob has too few fields');
  const version = parts[0];
  if (version !== 'g1' && version !== 'g2') throw new Error(`unknown galaxy blob version ${version}`);
  const [ufrag, pwd, fp] = [parts[1], parts[2], parts[3]];
  if (!ufrag || !pwd || !fp) throw new Error('galaxy blob lacks ufrag, pwd or fingerprint');
  if (!SAFE_TOKEN.test(ufrag) || !SAFE_TOKEN.test(pwd)) throw new Error('galaxy blob has odd characters');
  const fingerprint = base64urlDecode(fp);
  if (!fingerprint || fingerprint.length !== 32) throw new Error('galaxy fingerprint is not 32 bytes');
  let rest = parts.slice(4);
  /** @type {TurnSpec|null} */
  let turn = null;
  if (version === 'g2') {
    const spec = (rest[0] || '').split(',');
    rest = rest.slice(1);
    const port = Number(spec[0]);
    if (spec.length === 3 && Number.isInteger(port) && port >= 1 && port <= 65535 && spec[1] && spec[2] &&
      SAFE_TOKEN.test(spec[1]) && SAFE_TOKEN.test(spec[2])) {
      turn = { port, user: spec[1], pass: spec[2] };
    }
  }
  /** @type {Endpoint[]} */
  const endpoints = [];
  for (const ep of rest) {
    const cut = ep.lastIndexOf('~');
    if (cut <= 0) continue;
    const host = ep.slice(0, cut);
    const port = Number(ep.slice(cut + 1));
    if (!SAFE_HOST.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    endpoints.push({ host, port });
  }
  if (endpoints.length === 0) throw new Error('galaxy blob has no usable endpoint');
  return { version, ufrag, pwd, fingerprint, turn, endpoints };
}

/**
 * @param {string} s base64url without padding
 * @returns {Uint8Array|null}
 */
function base64urlDecode(s) {
  try {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/**
 * @param {Uint8Array} bytes
 * @returns {string} upper-case hex pairs joined by ':'
 */
export function fingerprintHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

/**
 * Builds the hub's SDP answer from the blob, line for line as Kibitz does,
 * so our hub and any Kibitz hub look the same to the browser.
 * @param {Galaxy} g
 * @param {string} mid the first a=mid of our offer
 * @returns {string}
 */
export function synthAnswer(g, mid) {
  const lines = [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${mid}`,
    'a=msid-semantic: WMS',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${g.ufrag}`,
    `a=ice-pwd:${g.pwd}`,
    `a=fingerprint:sha-256 ${fingerprintHex(g.fingerprint)}`,
    'a=setup:passive',
    `a=mid:${mid}`,
    'a=sctp-port:5000',
    'a=max-message-size:262144',
  ];
  g.endpoints.forEach((ep, i) => {
    lines.push(`a=candidate:${i + 1} 1 udp ${2130706431 - i} ${ep.host} ${ep.port} typ host generation 0`);
  });
  return lines.join('\r\n') + '\r\n';
}

/**
 * One TURN server per distinct IPv4 endpoint (g2 only), UDP only.
 * @param {Galaxy} g
 * @returns {RTCIceServer[]}
 */
export function turnServersFor(g) {
  if (!g.turn) return [];
  const seen = new Set();
  /** @type {RTCIceServer[]} */
  const out = [];
  for (const ep of g.endpoints) {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ep.host) || seen.has(ep.host)) continue;
    seen.add(ep.host);
    out.push({ urls: `turn:${ep.host}:${g.turn.port}?transport=udp`, username: g.turn.user, credential: g.turn.pass });
  }
  return out;
}

/**
 * The RTCPeerConnection config for browser↔browser media: relay-only via the
 * box's TURN on g2, direct host candidates on g1.
 * @param {Galaxy} g
 * @returns {RTCConfiguration}
 */
export function meshConfig(g) {
  const servers = turnServersFor(g);
  if (servers.length === 0) return { iceServers: [] };
  return { iceServers: servers, iceTransportPolicy: 'relay' };
}

/**
 * Normalizes a room name like Kibitz: lower-case, runs of anything but
 * [a-z0-9] become '-', no leading/trailing '-', at most 40 characters.
 * @param {string} s
 * @returns {string}
 */
export function normalizeRoom(s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
}

/**
 * The room named by a URL hash: up to the first '?', percent-decoded, normalized.
 * @param {string} hash location.hash, with or without '#'
 * @returns {string}
 */
export function roomFromHash(hash) {
  let s = String(hash).replace(/^#/, '');
  const q = s.indexOf('?');
  if (q >= 0) s = s.slice(0, q);
  try {
    s = decodeURIComponent(s);
  } catch {
    // a malformed escape: normalize the raw text instead
  }
  return normalizeRoom(s);
}

/** How long a connection attempt may take until the hub's `id` arrives. */
const OPEN_TIMEOUT_MS = 4000;
/** Liveness: we ping with `echo`; an echo unanswered this long means the hub is gone. */
const ECHO_EVERY_MS = 700;
const SILENCE_DEAD_MS = 2000;
/** `peers` replies slower than this resolve as empty. */
const PEERS_TIMEOUT_MS = 3000;

/**
 * @typedef {{
 *   onOpen?: (selfId: string) => void,
 *   onClose?: () => void,
 *   onFrom?: (fromId: string, payload: unknown) => void,
 *   onStatus?: (status: HubStatus) => void,
 * }} HubHandlers
 */

/**
 * A self-healing connection to the hub. A reconnect is a new hub session with
 * a new id; the room is re-joined automatically and onOpen fires again.
 */
export class Hub {
  /**
   * @param {Galaxy} galaxy
   * @param {HubHandlers} handlers
   */
  constructor(galaxy, handlers) {
    this.galaxy = galaxy;
    this.handlers = handlers;
    /** @type {HubStatus} */
    this.status = 'idle';
    /** @type {string|null} our hub id while connected */
    this.selfId = null;
    /** @type {string|null} */
    this.room = null;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    /** @type {RTCDataChannel|null} */
    this.dc = null;
    /** @type {{resolve: (ids: string[]) => void, done: boolean}[]} */
    this.peerWaiters = [];
    this.attempt = 0;
    this.failures = 0;
    this.stopped = true;
    /** When the oldest unanswered echo went out (0: none pending). */
    this.pendingSince = 0;
    this.echoSeq = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this.echoTimer = undefined;
    /** Connections opened so far (debug and tests). */
    this.sessions = 0;
  }

  /** Starts connecting and keeps the connection up until stop(). */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Closes the connection for good. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.teardown();
    this.setStatus('closed');
  }

  /** @param {HubStatus} s */
  setStatus(s) {
    if (this.status === s) return;
    this.status = s;
    this.handlers.onStatus?.(s);
  }

  /**
   * Selects the room; re-sent after every reconnect.
   * @param {string} room
   */
  join(room) {
    this.room = room;
    if (this.status === 'open') this.sendRaw({ t: 'join', room });
  }

  /**
   * Ids in our room, including our own, as strings.
   * @returns {Promise<string[]>}
   */
  peers() {
    if (this.status !== 'open') return Promise.resolve([]);
    return new Promise((resolve) => {
      const waiter = { resolve, done: false };
      this.peerWaiters.push(waiter);
      setTimeout(() => {
        if (!waiter.done) {
          waiter.done = true;
          resolve([]);
        }
      }, PEERS_TIMEOUT_MS);
      this.sendRaw({ t: 'peers' });
    });
  }

  /**
   * Sends payload to one peer in our room; the hub stamps our id on it.
   * @param {string} id
   * @param {unknown} payload
   */
  send(id, payload) {
    const n = Number(id);
    if (!Number.isSafeInteger(n)) return;
    this.sendRaw({ t: 'to', id: n, payload });
  }

  /**
   * Sends payload to everyone else in the room.
   * @param {unknown} payload
   */
  async broadcast(payload) {
    const ids = await this.peers();
    for (const id of ids) if (id !== this.selfId) this.send(id, payload);
  }

  /** @param {object} frame */
  sendRaw(frame) {
    const dc = this.dc;
    if (!dc || dc.readyState !== 'open') return;
    try {
      dc.send(JSON.stringify(frame));
    } catch {
      // a closing channel; the liveness check reconnects
    }
  }

  /** Tears down the current attempt without touching the status. */
  teardown() {
    clearInterval(this.echoTimer);
    const { pc, dc } = this;
    this.pc = null;
    this.dc = null;
    this.selfId = null;
    for (const w of this.peerWaiters.splice(0)) {
      if (!w.done) {
        w.done = true;
        w.resolve([]);
      }
    }
    if (dc) {
      dc.onmessage = null;
      dc.onclose = null;
      try { dc.close(); } catch { /* already closed */ }
    }
    if (pc) {
      pc.onconnectionstatechange = null;
      try { pc.close(); } catch { /* already closed */ }
    }
  }

  /** @param {number} delay */
  scheduleRetry(delay) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Called when an open session or an attempt ends. */
  lost() {
    const wasOpen = this.status === 'open';
    this.teardown();
    if (this.stopped) return;
    if (wasOpen) {
      this.failures = 0;
      this.setStatus('reconnecting');
      this.handlers.onClose?.();
      this.scheduleRetry(100);
      return;
    }
    this.failures++;
    if (this.failures >= 2) this.setStatus('unreachable');
    this.scheduleRetry(Math.min(1000, 250 * this.failures));
  }

  async connect() {
    if (this.stopped) return;
    this.teardown();
    const attempt = ++this.attempt;
    if (this.status !== 'unreachable') this.setStatus(this.sessions === 0 ? 'connecting' : 'reconnecting');
    const pc = new RTCPeerConnection({ iceServers: [] });
    const dc = pc.createDataChannel('hub');
    this.pc = pc;
    this.dc = dc;
    const current = () => attempt === this.attempt && this.pc === pc;
    const timer = setTimeout(() => {
      if (current() && this.status !== 'open') this.lost();
    }, OPEN_TIMEOUT_MS);
    dc.onmessage = (e) => {
      if (!current()) return;
      this.pendingSince = 0;
      this.onMessage(e.data, timer);
    };
    dc.onclose = () => {
      if (current()) this.lost();
    };
    pc.onconnectionstatechange = () => {
      if (current() && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) this.lost();
    };
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const mid = /a=mid:(\S+)/.exec(offer.sdp || '')?.[1] ?? '0';
      await pc.setRemoteDescription({ type: 'answer', sdp: synthAnswer(this.galaxy, mid) });
    } catch (err) {
      console.warn('hub: offer/answer failed', err);
      clearTimeout(timer);
      if (current()) this.lost();
    }
  }

  /**
   * @param {unknown} data
   * @param {ReturnType<typeof setTimeout>} openTimer
   */
  onMessage(data, openTimer) {
    if (typeof data !== 'string') return;
    /** @type {any} */
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (!f || typeof f !== 'object') return;
    switch (f.t) {
      case 'id':
        if (this.selfId !== null || !Number.isSafeInteger(f.id)) return;
        clearTimeout(openTimer);
        this.selfId = String(f.id);
        this.sessions++;
        this.failures = 0;
        this.setStatus('open');
        if (this.room !== null) this.sendRaw({ t: 'join', room: this.room });
        this.startEcho();
        this.handlers.onOpen?.(this.selfId);
        return;
      case 'peers': {
        const ids = Array.isArray(f.ids) ? f.ids.filter(Number.isSafeInteger).map(String) : [];
        const w = this.peerWaiters.shift();
        if (w && !w.done) {
          w.done = true;
          w.resolve(ids);
        }
        return;
      }
      case 'from':
        if (!Number.isSafeInteger(f.id)) return;
        this.handlers.onFrom?.(String(f.id), f.payload);
        return;
      default:
        // echo replies and unknown frames only count as liveness
    }
  }

  startEcho() {
    clearInterval(this.echoTimer);
    this.pendingSince = 0;
    const pc = this.pc;
    // Timers of hidden tabs may be throttled, so only an echo we sent and
    // that stayed unanswered counts, never a long gap between ticks.
    this.echoTimer = setInterval(() => {
      if (this.pc !== pc) return;
      const now = performance.now();
      if (this.pendingSince && now - this.pendingSince > SILENCE_DEAD_MS) {
        console.warn('hub: echo unanswered, reconnecting');
        this.lost();
        return;
      }
      if (!this.pendingSince) this.pendingSince = now;
      this.sendRaw({ t: 'echo', x: ++this.echoSeq });
    }, ECHO_EVERY_MS);
  }
}
