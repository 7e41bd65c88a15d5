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
/** Liveness: we send `echo` this often while connected. */
const ECHO_EVERY_MS = 500;
/**
 * An echo unanswered this long makes us open a second session in the
 * background; if that one comes up while the first is still silent, it
 * takes over. A hub restart is healed in about this time plus a handshake,
 * and a merely slow hub costs nothing.
 */
const SUSPECT_MS = 1000;
/** An echo unanswered this long ends the session for good. */
const DEAD_MS = 4000;
/** `peers` replies slower than this resolve as empty. */
const PEERS_TIMEOUT_MS = 3000;

/**
 * @typedef {{
 *   onOpen?: (selfId: string) => void,
 *   onClose?: () => void,
 *   onFrom?: (fromId: string, payload: unknown) => void,
 *   onStatus?: (status: HubStatus) => void,
 *   onNotice?: (text: string) => void,
 *   onRefused?: (room: string, why: string) => void,
 *   onAir?: (budgetKbps: number) => void,
 * }} HubHandlers
 * @typedef {{
 *   pc: RTCPeerConnection,
 *   dc: RTCDataChannel,
 *   selfId: string|null,
 *   timer: ReturnType<typeof setTimeout>|undefined,
 *   closed: boolean,
 * }} Session
 */

/**
 * @param {unknown} data
 * @returns {any} the parsed frame object, or null
 */
function parseFrame(data) {
  if (typeof data !== 'string') return null;
  try {
    const f = JSON.parse(data);
    return f && typeof f === 'object' && !Array.isArray(f) ? f : null;
  } catch {
    return null;
  }
}

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
    /** @type {Session|null} the session in use */
    this.session = null;
    /** @type {Session|null} a session being opened by the reconnect loop */
    this.attempt = null;
    /** @type {Session|null} a stand-by session opened while the current one is silent */
    this.probe = null;
    /** @type {{resolve: (ids: string[]) => void, done: boolean}[]} */
    this.peerWaiters = [];
    this.failures = 0;
    this.stopped = true;
    /** When the oldest unanswered echo went out (0: none pending). */
    this.pendingSince = 0;
    this.echoSeq = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this.echoTimer = undefined;
    /** Sessions opened so far (debug and tests). */
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
    clearInterval(this.echoTimer);
    for (const s of [this.session, this.attempt, this.probe]) if (s) this.close(s);
    this.session = this.attempt = this.probe = null;
    this.selfId = null;
    this.flushWaiters();
    this.setStatus('closed');
  }

  /**
   * Stops reconnecting but leaves the session open, for page teardown: a
   * frame just sent (our `bye`) would be lost if the connection were closed
   * right after it; the browser closes it with the page.
   */
  abandon() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.echoTimer);
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
   * @param {() => boolean} [stillWanted] checked again once the room's ids are known
   */
  async broadcast(payload, stillWanted) {
    const ids = await this.peers();
    // The answer takes a round trip: a message that went stale meanwhile
    // (a beacon after we left) must not follow our bye.
    if (stillWanted && !stillWanted()) return;
    for (const id of ids) if (id !== this.selfId) this.send(id, payload);
  }

  /** @param {object} frame */
  sendRaw(frame) {
    const dc = this.session?.dc;
    if (!dc || dc.readyState !== 'open') return;
    try {
      dc.send(JSON.stringify(frame));
    } catch {
      // a closing channel; the liveness check reconnects
    }
  }

  flushWaiters() {
    for (const w of this.peerWaiters.splice(0)) {
      if (!w.done) {
        w.done = true;
        w.resolve([]);
      }
    }
  }

  /** @param {Session} s */
  close(s) {
    if (s.closed) return;
    s.closed = true;
    clearTimeout(s.timer);
    s.dc.onmessage = null;
    s.dc.onclose = null;
    s.pc.onconnectionstatechange = null;
    try { s.dc.close(); } catch { /* already closed */ }
    try { s.pc.close(); } catch { /* already closed */ }
  }

  /**
   * Opens one hub session: our offer, the answer built from the blob, and
   * the wait for the hub's `id`.
   * @param {(s: Session) => void} onReady the `id` arrived
   * @param {(s: Session) => void} onEnd the session failed or closed
   * @returns {Session}
   */
  open(onReady, onEnd) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const dc = pc.createDataChannel('hub');
    /** @type {Session} */
    const s = { pc, dc, selfId: null, timer: undefined, closed: false };
    const end = () => {
      if (s.closed) return;
      this.close(s);
      onEnd(s);
    };
    s.timer = setTimeout(() => {
      if (s.selfId === null) end();
    }, OPEN_TIMEOUT_MS);
    dc.onmessage = (e) => {
      const f = parseFrame(e.data);
      if (!f) return;
      if (s.selfId === null) {
        if (f.t !== 'id' || !Number.isSafeInteger(f.id)) return;
        clearTimeout(s.timer);
        s.selfId = String(f.id);
        onReady(s);
        return;
      }
      if (s !== this.session) return;
      this.pendingSince = 0;
      this.onFrame(f);
    };
    dc.onclose = end;
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') end();
    };
    (async () => {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const mid = /a=mid:(\S+)/.exec(offer.sdp || '')?.[1] ?? '0';
      await pc.setRemoteDescription({ type: 'answer', sdp: synthAnswer(this.galaxy, mid) });
    })().catch((err) => {
      console.warn('hub: offer/answer failed', err);
      end();
    });
    return s;
  }

  /** One attempt of the reconnect loop. */
  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    if (this.attempt) this.close(this.attempt);
    if (this.status !== 'unreachable') this.setStatus(this.sessions === 0 ? 'connecting' : 'reconnecting');
    this.attempt = this.open((s) => this.adopt(s), (s) => {
      if (s !== this.attempt) return;
      this.attempt = null;
      this.failures++;
      if (this.failures >= 2) this.setStatus('unreachable');
      this.scheduleRetry(Math.min(1000, 250 * this.failures));
    });
  }

  /** @param {number} delay */
  scheduleRetry(delay) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Makes s the session in use (a fresh one, or a stand-by taking over).
   * @param {Session} s
   */
  adopt(s) {
    if (this.stopped) {
      this.close(s);
      return;
    }
    for (const other of [this.session, this.attempt, this.probe]) if (other && other !== s) this.close(other);
    this.attempt = this.probe = null;
    this.flushWaiters();
    this.session = s;
    s.dc.onclose = () => this.lost(s);
    s.pc.onconnectionstatechange = () => {
      if (s.pc.connectionState === 'failed' || s.pc.connectionState === 'closed') this.lost(s);
    };
    this.selfId = s.selfId;
    this.sessions++;
    this.failures = 0;
    this.setStatus('open');
    if (this.room !== null) this.sendRaw({ t: 'join', room: this.room });
    this.startEcho();
    this.handlers.onOpen?.(/** @type {string} */ (this.selfId));
  }

  /**
   * The session in use ended.
   * @param {Session} s
   */
  lost(s) {
    if (s !== this.session) return;
    this.close(s);
    this.session = null;
    this.selfId = null;
    clearInterval(this.echoTimer);
    this.flushWaiters();
    if (this.stopped) return;
    this.setStatus('reconnecting');
    this.handlers.onClose?.();
    if (!this.probe) this.scheduleRetry(100);
  }

  /** @param {any} f a parsed frame of the session in use */
  onFrame(f) {
    switch (f.t) {
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
      // Frames only the box's hub sends (docs/protocol.md §4.1).
      case 'notice':
        if (typeof f.text === 'string' && f.text) this.handlers.onNotice?.(f.text.slice(0, 300));
        return;
      case 'air':
        if (Number.isInteger(f.budget_kbps) && f.budget_kbps >= 0) this.handlers.onAir?.(f.budget_kbps);
        return;
      case 'refused': {
        const why = typeof f.why === 'string' ? f.why : '';
        // A kicked guest stays out: reconnecting would only be refused.
        if (why === 'kicked') this.stop();
        this.handlers.onRefused?.(typeof f.room === 'string' ? f.room : '', why);
        return;
      }
      default:
        // echo replies and unknown frames only count as liveness
    }
  }

  startEcho() {
    clearInterval(this.echoTimer);
    this.pendingSince = 0;
    const session = this.session;
    // Timers of hidden tabs may be throttled, so only an echo we sent and
    // that stayed unanswered counts, never a long gap between ticks.
    let lastTick = performance.now();
    this.echoTimer = setInterval(() => {
      if (!session || this.session !== session) return;
      const now = performance.now();
      // Time this page itself did not run (a busy machine, a frozen or
      // throttled tab) is not the hub's silence: its reply may be queued
      // right behind this tick. Only the time the page ran counts.
      const gap = now - lastTick;
      if (gap > 3 * ECHO_EVERY_MS && this.pendingSince) this.pendingSince = Math.min(now, this.pendingSince + gap - ECHO_EVERY_MS);
      lastTick = now;
      const silent = this.pendingSince ? now - this.pendingSince : 0;
      if (silent > DEAD_MS) {
        console.warn('hub: echo unanswered, reconnecting');
        this.lost(session);
        return;
      }
      if (silent > SUSPECT_MS && !this.probe) {
        this.probe = this.open((p) => {
          if (this.probe !== p) return;
          // Take over if the old session is gone or still silent.
          if (!this.session || (this.session === session && this.pendingSince)) {
            console.warn('hub: the session went silent; a new one takes over');
            this.adopt(p);
          } else {
            this.probe = null;
            this.close(p);
          }
        }, (p) => {
          if (this.probe === p) this.probe = null;
          if (!this.session && !this.stopped) this.scheduleRetry(100);
        });
      }
      if (!this.pendingSince) this.pendingSince = now;
      this.sendRaw({ t: 'echo', x: ++this.echoSeq });
    }, ECHO_EVERY_MS);
  }
}
