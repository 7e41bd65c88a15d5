// The media mesh: one RTCPeerConnection per other participant, relay-only
// through the box's TURN, signaled with Kibitz `sig` payloads ({d} for a
// description, {c} for a candidate) through the hub. The lower id (as a
// string) dials. Each link carries three lanes (audio, camera, screen) and
// the `content` data channel for chat.

import { LANE_AUDIO, LANE_CAMERA, LANE_SCREEN } from './media.js';

/**
 * @typedef {{text: string, mid: string, ts: number, from: string, mine: boolean}} ChatLine
 * @typedef {{
 *   id: string,
 *   pc: RTCPeerConnection,
 *   dialer: boolean,
 *   senders: RTCRtpSender[],
 *   content: RTCDataChannel|null,
 *   audio: MediaStream,
 *   camera: MediaStream,
 *   screen: MediaStream,
 *   pending: RTCIceCandidateInit[],
 *   created: number,
 *   badSince: number,
 * }} Link
 */

const CHAT_MAX = 500;
/** A dialed link not connected for this long is given up and re-dialed. */
const DIAL_GIVE_UP_MS = 12000;
const ROSTER_GRACE_MS = 5000;

/**
 * @param {unknown} v
 * @returns {v is Record<string, any>}
 */
function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The media m-line order of a description: lane index by mid.
 * @param {string} sdp
 * @returns {Map<string, number>} mid → lane (0 audio, 1 camera, 2 screen)
 */
function lanesByMid(sdp) {
  /** @type {Map<string, number>} */
  const out = new Map();
  let kind = '';
  let videos = 0;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) kind = line.slice(2).split(' ')[0];
    const m = /^a=mid:(\S+)/.exec(line);
    if (!m) continue;
    if (kind === 'audio' && ![...out.values()].includes(LANE_AUDIO)) out.set(m[1], LANE_AUDIO);
    if (kind === 'video') out.set(m[1], videos++ === 0 ? LANE_CAMERA : LANE_SCREEN);
  }
  return out;
}

/**
 * Kibitz's glare rule: of two peers, the one whose hub id is smaller as a
 * string dials ("10" < "9"), so exactly one side makes the offer.
 * @param {string} selfId
 * @param {string} otherId
 * @returns {boolean} whether selfId makes the offer to otherId
 */
export function dialsTo(selfId, otherId) {
  return selfId !== otherId && selfId < otherId;
}

/**
 * Sets the encoder limits of one video sender; no renegotiation.
 * @param {RTCRtpSender|undefined} sender
 * @param {import('./air.js').VideoLimits|null} limits
 */
function applyLimits(sender, limits) {
  if (!sender) return;
  const params = /** @type {RTCRtpSendParameters & {degradationPreference?: string}} */ (sender.getParameters());
  // Under CPU or bandwidth pressure drop frame rate, not resolution
  // (libwebrtc otherwise halves a camera to 320×240 on a busy laptop; a
  // face that small is hard to read on a tile, 12 fps of it is fine).
  // Browsers that ignore it keep their default.
  params.degradationPreference = 'maintain-resolution';
  // Before negotiation some browsers list no encodings; the link applies
  // the limits again once it connects.
  const enc = params.encodings?.[0];
  if (!enc) return;
  if (limits) {
    enc.maxBitrate = limits.maxBitrate;
    enc.scaleResolutionDownBy = limits.scaleResolutionDownBy;
    enc.maxFramerate = limits.maxFramerate;
  } else {
    delete enc.maxBitrate;
    delete enc.maxFramerate;
    enc.scaleResolutionDownBy = 1;
  }
  sender.setParameters(params).catch((err) => console.warn('mesh: setParameters', err));
}

/**
 * A 2×2 placeholder needs next to nothing, but libwebrtc gives every video
 * sender a slice of the link's estimate up to its cap: uncapped, the idle
 * screen lane took a third of it from the camera.
 * @type {import('./air.js').VideoLimits}
 */
const PLACEHOLDER_LIMITS = { maxBitrate: 30_000, scaleResolutionDownBy: 1, maxFramerate: 5 };

export class Mesh {
  /**
   * @param {{
   *   config: RTCConfiguration,
   *   local: import('./media.js').LocalMedia,
   *   signal: (to: string, payload: unknown) => void,
   *   onChange?: () => void,
   *   onChat?: (line: ChatLine) => void,
   *   onLinkDead?: (id: string) => void,
   * }} opts
   */
  constructor(opts) {
    this.opts = opts;
    /** @type {string|null} */
    this.selfId = null;
    /** @type {Map<string, Link>} */
    this.links = new Map();
    this.chatSeq = 0;
    /** @type {Set<string>} chat mids seen, for de-duplication */
    this.seenMids = new Set();
    /** Counters the tests read: a toggle must change neither. */
    this.pcCreated = 0;
    this.negotiations = 0;
    /** @type {import('./air.js').VideoLimits|null} caps on outgoing camera video */
    this.videoLimits = null;
    this.laneListener = (/** @type {number} */ lane, /** @type {MediaStreamTrack} */ track) => this.swapLane(lane, track);
    opts.local.laneListeners.add(this.laneListener);
  }

  /**
   * Our hub id changed (join or hub reconnect): every link was keyed to the
   * old one, so start over.
   * @param {string|null} id
   */
  setSelf(id) {
    if (id === this.selfId) return;
    this.closeAll();
    this.selfId = id;
  }

  /**
   * Reconciles links with the roster: dial members we lead and have no link
   * to, close links to members that left.
   * @param {string[]} ids roster member ids (others)
   */
  setRoster(ids) {
    const self = this.selfId;
    if (self === null) return;
    const want = new Set(ids);
    const now = performance.now();
    for (const [id, link] of [...this.links]) {
      // An offer can overtake the dialer's first `present`: keep a fresh
      // answered link a moment for its roster entry to arrive.
      if (!want.has(id) && (link.dialer || now - link.created > ROSTER_GRACE_MS)) this.close(id);
    }
    for (const id of want) {
      if (id === self) continue;
      const link = this.links.get(id);
      if (link && link.dialer && link.badSince && now - link.badSince > DIAL_GIVE_UP_MS) {
        this.close(id);
      } else if (link) {
        continue;
      }
      if (dialsTo(self, id)) this.dial(id);
    }
  }

  /**
   * @param {string} id
   * @param {boolean} dialer
   * @returns {Link}
   */
  newLink(id, dialer) {
    this.close(id);
    const pc = new RTCPeerConnection(this.opts.config);
    this.pcCreated++;
    /** @type {Link} */
    const link = {
      id, pc, dialer, senders: [], content: null,
      audio: new MediaStream(), camera: new MediaStream(), screen: new MediaStream(),
      pending: [], created: performance.now(), badSince: performance.now(),
    };
    this.links.set(id, link);
    const stream = new MediaStream();
    for (const track of this.opts.local.tracks()) link.senders.push(pc.addTrack(track, stream));
    pc.onicecandidate = (e) => {
      if (e.candidate) this.opts.signal(id, { k: 'sig', payload: { c: e.candidate.toJSON() } });
    };
    pc.onicecandidateerror = (e) => {
      const ev = /** @type {RTCPeerConnectionIceErrorEvent} */ (e);
      console.warn('mesh: TURN/ICE error', ev.url, ev.errorCode, ev.errorText);
    };
    pc.ontrack = (e) => {
      const mid = e.transceiver.mid ?? '';
      const lane = lanesByMid(pc.remoteDescription?.sdp ?? '').get(mid) ?? (e.track.kind === 'audio' ? LANE_AUDIO : LANE_CAMERA);
      const target = lane === LANE_AUDIO ? link.audio : lane === LANE_CAMERA ? link.camera : link.screen;
      for (const t of target.getTracks()) target.removeTrack(t);
      target.addTrack(e.track);
      this.opts.onChange?.();
    };
    pc.onconnectionstatechange = () => {
      if (this.links.get(id) !== link) return;
      const s = pc.connectionState;
      if (s === 'connected') {
        link.badSince = 0;
        this.limitLane(link, LANE_CAMERA);
        this.limitLane(link, LANE_SCREEN);
      }
      else if (!link.badSince) link.badSince = performance.now();
      if (s === 'failed' || s === 'closed') {
        this.close(id);
        this.opts.onLinkDead?.(id);
      }
      this.opts.onChange?.();
    };
    pc.ondatachannel = (e) => {
      if (e.channel.label === 'content') this.bindContent(link, e.channel);
    };
    return link;
  }

  /** @param {string} id */
  async dial(id) {
    const link = this.newLink(id, true);
    this.bindContent(link, link.pc.createDataChannel('content'));
    try {
      const offer = await link.pc.createOffer();
      if (this.links.get(id) !== link) return;
      await link.pc.setLocalDescription(offer);
      this.negotiations++;
      this.opts.signal(id, { k: 'sig', payload: { d: link.pc.localDescription?.toJSON() ?? offer } });
    } catch (err) {
      console.warn('mesh: offer failed', id, err);
      this.close(id);
    }
  }

  /**
   * Handles a `sig` payload from another participant.
   * @param {string} from
   * @param {unknown} payload
   */
  async handleSig(from, payload) {
    if (!isObject(payload) || this.selfId === null || from === this.selfId) return;
    if (isObject(payload.d) && typeof payload.d.sdp === 'string') {
      const d = payload.d;
      if (d.type === 'offer') {
        // An offer always replaces whatever link we had with that peer.
        const link = this.newLink(from, false);
        try {
          await link.pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
          await this.flushCandidates(link);
          const answer = await link.pc.createAnswer();
          if (this.links.get(from) !== link) return;
          await link.pc.setLocalDescription(answer);
              this.negotiations++;
          this.opts.signal(from, { k: 'sig', payload: { d: link.pc.localDescription?.toJSON() ?? answer } });
        } catch (err) {
          console.warn('mesh: answering failed', from, err);
          this.close(from);
        }
      } else if (d.type === 'answer') {
        const link = this.links.get(from);
        if (!link || link.pc.signalingState !== 'have-local-offer') return;
        try {
          await link.pc.setRemoteDescription({ type: 'answer', sdp: d.sdp });
          await this.flushCandidates(link);
        } catch (err) {
          console.warn('mesh: bad answer', from, err);
        }
      }
      return;
    }
    if (isObject(payload.c)) {
      const link = this.links.get(from);
      if (!link) return;
      /** @type {RTCIceCandidateInit} */
      const c = {
        candidate: typeof payload.c.candidate === 'string' ? payload.c.candidate : '',
        sdpMid: typeof payload.c.sdpMid === 'string' ? payload.c.sdpMid : null,
        sdpMLineIndex: typeof payload.c.sdpMLineIndex === 'number' ? payload.c.sdpMLineIndex : null,
      };
      if (typeof payload.c.usernameFragment === 'string') c.usernameFragment = payload.c.usernameFragment;
      if (!link.pc.remoteDescription) {
        if (link.pending.length < 100) link.pending.push(c);
        return;
      }
      link.pc.addIceCandidate(c).catch(() => {});
    }
  }

  /** @param {Link} link */
  async flushCandidates(link) {
    for (const c of link.pending.splice(0)) await link.pc.addIceCandidate(c).catch(() => {});
  }

  /**
   * @param {Link} link
   * @param {RTCDataChannel} dc
   */
  bindContent(link, dc) {
    link.content = dc;
    dc.onmessage = (e) => {
      if (typeof e.data !== 'string' || e.data.length > 262144) return;
      /** @type {unknown} */
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (!isObject(msg) || msg.k !== 'chat' || typeof msg.text !== 'string' || msg.dm === true) return;
      const text = msg.text.slice(0, CHAT_MAX);
      if (!text.trim()) return;
      let mid = typeof msg.mid === 'string' ? msg.mid : '';
      if (!mid.startsWith(link.id + '#')) mid = `${link.id}#${mid || Math.random().toString(36).slice(2)}`;
      if (this.seenMids.has(mid)) return;
      if (this.seenMids.size >= 5000) this.seenMids.clear();
      this.seenMids.add(mid);
      const ts = typeof msg.ts === 'number' && Number.isFinite(msg.ts) ? msg.ts : Date.now();
      this.opts.onChat?.({ text, mid, ts, from: link.id, mine: false });
    };
    dc.onopen = () => this.opts.onChange?.();
    dc.onclose = () => {
      if (this.links.get(link.id) === link && link.content === dc) this.opts.onLinkDead?.(link.id);
    };
  }

  /**
   * Sends a chat line to everyone we have a link with.
   * @param {string} text
   * @returns {ChatLine|null} the line as sent
   */
  sendChat(text) {
    const t = text.trim().slice(0, CHAT_MAX);
    if (!t || this.selfId === null) return null;
    const line = { text: t, mid: `${this.selfId}#${++this.chatSeq}`, ts: Date.now(), from: this.selfId, mine: true };
    const frame = JSON.stringify({ k: 'chat', text: line.text, mid: line.mid, ts: line.ts });
    for (const link of this.links.values()) {
      if (link.content?.readyState === 'open') {
        try { link.content.send(frame); } catch { /* link is going away */ }
      }
    }
    return line;
  }

  /**
   * Caps every link's outgoing camera video to fit the air budget (null:
   * no cap); links made later get the same when they connect.
   * @param {import('./air.js').VideoLimits|null} limits
   */
  setVideoLimits(limits) {
    if (JSON.stringify(limits) === JSON.stringify(this.videoLimits)) return;
    this.videoLimits = limits;
    for (const link of this.links.values()) this.limitLane(link, LANE_CAMERA);
  }

  /**
   * Sets the encoder limits of one video lane of a link for the track it
   * carries now: a placeholder's, the air budget's for the camera, none
   * for a shared screen.
   * @param {Link} link
   * @param {number} lane
   */
  limitLane(link, lane) {
    const sender = link.senders[lane];
    if (!sender) return;
    if (this.opts.local.isPlaceholder(sender.track)) applyLimits(sender, PLACEHOLDER_LIMITS);
    else applyLimits(sender, lane === LANE_CAMERA ? this.videoLimits : null);
  }

  /**
   * Puts a new local track into one lane of every link (no renegotiation).
   * @param {number} lane
   * @param {MediaStreamTrack} track
   */
  swapLane(lane, track) {
    for (const link of this.links.values()) {
      const sender = link.senders[lane];
      if (!sender || sender.track === track) continue;
      sender.replaceTrack(track)
        .then(() => { if (lane !== LANE_AUDIO) this.limitLane(link, lane); })
        .catch((err) => console.warn('mesh: replaceTrack', err));
    }
  }

  /** @param {string} id */
  close(id) {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    link.pc.onconnectionstatechange = null;
    link.pc.ontrack = null;
    link.pc.onicecandidate = null;
    if (link.content) {
      link.content.onclose = null;
      link.content.onmessage = null;
    }
    link.pc.close();
    this.opts.onChange?.();
  }

  closeAll() {
    for (const id of [...this.links.keys()]) this.close(id);
  }

  /** Detaches from local media (page teardown). */
  dispose() {
    this.closeAll();
    this.opts.local.laneListeners.delete(this.laneListener);
  }

  /**
   * Media figures per link, for the speaking indicator and the tests.
   * @returns {Promise<Record<string, {state: string, framesDecoded: number, audioPackets: number, audioLevel: number, relay: boolean}>>}
   */
  async stats() {
    /** @type {Record<string, {state: string, framesDecoded: number, audioPackets: number, audioLevel: number, relay: boolean}>} */
    const out = {};
    await Promise.all([...this.links.values()].map(async (link) => {
      const r = { state: link.pc.connectionState, framesDecoded: 0, audioPackets: 0, audioLevel: 0, relay: false };
      try {
        const report = await link.pc.getStats();
        /** @type {Map<string, any>} */
        const byId = new Map();
        report.forEach((s) => byId.set(s.id, s));
        for (const s of byId.values()) {
          if (s.type === 'inbound-rtp' && s.kind === 'video') r.framesDecoded += s.framesDecoded || 0;
          if (s.type === 'inbound-rtp' && s.kind === 'audio') {
            r.audioPackets += s.packetsReceived || 0;
            r.audioLevel = Math.max(r.audioLevel, s.audioLevel || 0);
          }
          if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
            r.relay = byId.get(s.localCandidateId)?.candidateType === 'relay';
          }
        }
      } catch {
        // a closing link
      }
      out[link.id] = r;
    }));
    return out;
  }
}
