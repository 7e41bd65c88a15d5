// Room presence over the hub, wire-compatible with Kibitz: `hi` on every
// (re)connect, `present` every 2.5 s while in the call, `bye` on leaving,
// `sig` for media signaling. Entries not refreshed for 8 s are reaped unless
// their media link is still up (a frozen or backgrounded tab sends no
// beacons, but its browser keeps the link alive); a `bye` (ours or the
// hub's on behalf of a vanished peer) removes at once.

/**
 * @typedef {{
 *   id: string,
 *   name: string,
 *   cam: boolean,
 *   avatar: string,
 *   meta: Record<string, unknown>,
 *   seen: number,
 * }} Member
 * @typedef {{name: string, cam: boolean, mic: boolean, screen: boolean}} SelfState
 */

/** Protocol version we speak (Kibitz `~kbz.p`). */
export const PROTOCOL_VERSION = 1;
/** App version announced in `~kbz.v`. */
export const APP_VERSION = '0.1.0';
const BEACON_MS = 2500;
const REAP_MS = 8000;
const REAP_CHECK_MS = 1000;
const NAME_MAX = 40;

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class Room {
  /**
   * @param {import('./protocol.js').Hub} hub
   * @param {{
   *   onRoster?: (members: Member[]) => void,
   *   onSig?: (fromId: string, payload: unknown) => void,
   *   onNewerVersion?: () => void,
   *   linkUp?: (id: string) => boolean,
   * }} handlers
   */
  constructor(hub, handlers) {
    this.hub = hub;
    this.handlers = handlers;
    /** @type {Map<string, Member>} others in the call, by hub id */
    this.members = new Map();
    this.inCall = false;
    /** @type {SelfState} */
    this.self = { name: 'Guest', cam: false, mic: false, screen: false };
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this.beaconTimer = undefined;
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this.reapTimer = setInterval(() => this.reap(), REAP_CHECK_MS);
  }

  /** Our `present` payload. */
  presentPayload() {
    return {
      k: 'present',
      name: this.self.name,
      cam: this.self.cam,
      avatar: '',
      meta: {
        '~kbz': { v: APP_VERSION, b: 'kibitzbox', p: PROTOCOL_VERSION, f: ['chat.v1'] },
        mic: this.self.mic,
        screen: this.self.screen,
      },
    };
  }

  /** Call after every hub (re)connect: a new hub id makes all ids stale. */
  onHubOpen() {
    this.members.clear();
    this.emit();
    this.hub.broadcast({ k: 'hi' });
    if (this.inCall) this.hub.broadcast(this.presentPayload(), () => this.inCall);
  }

  /** Enters the call: others now see us in their roster. */
  enter() {
    if (this.inCall) return;
    this.inCall = true;
    this.hub.broadcast({ k: 'hi' });
    this.announce();
    this.beaconTimer = setInterval(() => this.announce(), BEACON_MS);
  }

  /** Leaves the call; we stay connected to the hub (to see who is in). */
  leave() {
    if (!this.inCall) return;
    this.inCall = false;
    clearInterval(this.beaconTimer);
    // Directly to everyone we know first: on page teardown there is no
    // time left for the `peers` round trip of broadcast().
    for (const id of this.members.keys()) this.hub.send(id, { k: 'bye' });
    this.hub.broadcast({ k: 'bye' });
  }

  /** Stops timers for good (page teardown). */
  close() {
    this.leave();
    clearInterval(this.reapTimer);
  }

  /**
   * Updates what we announce and tells the room at once.
   * @param {Partial<SelfState>} patch
   */
  update(patch) {
    Object.assign(this.self, patch);
    if (this.inCall) this.announce();
  }

  announce() {
    if (this.inCall) this.hub.broadcast(this.presentPayload(), () => this.inCall);
  }

  /**
   * Handles one `from` payload from the hub.
   * @param {string} fromId
   * @param {unknown} payload
   */
  handle(fromId, payload) {
    if (!isObject(payload) || fromId === this.hub.selfId) return;
    switch (payload.k) {
      case 'hi':
        if (this.inCall) this.hub.send(fromId, this.presentPayload());
        return;
      case 'present': {
        const name = typeof payload.name === 'string' && payload.name.trim() ? payload.name.trim().slice(0, NAME_MAX) : 'Guest';
        const meta = isObject(payload.meta) ? payload.meta : {};
        const old = this.members.get(fromId);
        /** @type {Member} */
        const m = {
          id: fromId,
          name,
          cam: payload.cam === true,
          avatar: typeof payload.avatar === 'string' ? payload.avatar.slice(0, 16) : '',
          meta,
          seen: performance.now(),
        };
        this.members.set(fromId, m);
        const kbz = meta['~kbz'];
        if (isObject(kbz) && typeof kbz.p === 'number' && kbz.p > PROTOCOL_VERSION) this.handlers.onNewerVersion?.();
        if (!old || old.name !== m.name || old.cam !== m.cam || old.avatar !== m.avatar ||
          JSON.stringify(old.meta) !== JSON.stringify(m.meta)) this.emit();
        return;
      }
      case 'bye':
        this.remove(fromId);
        return;
      case 'sig':
        this.handlers.onSig?.(fromId, payload.payload);
        return;
      default:
        // unknown kinds are ignored (forward compatibility)
    }
  }

  /**
   * Forgets a member now (bye, or its media link died; a live peer
   * re-announces within one beacon and comes back).
   * @param {string} id
   */
  remove(id) {
    if (this.members.delete(id)) this.emit();
  }

  reap() {
    const now = performance.now();
    let changed = false;
    for (const [id, m] of this.members) {
      if (now - m.seen > REAP_MS && !this.handlers.linkUp?.(id)) {
        this.members.delete(id);
        changed = true;
      }
    }
    if (changed) this.emit();
  }

  emit() {
    this.handlers.onRoster?.([...this.members.values()]);
  }
}
