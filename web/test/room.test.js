// Unit tests of room.js: presence (hi/present/bye), names, reaping, and the
// newer-version notice, over an in-memory hub that records what is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Room, PROTOCOL_VERSION } from '../static/room.js';

class MemoryHub {
  constructor() {
    this.selfId = '5';
    /** @type {{to: string|null, payload: any}[]} */
    this.sent = [];
  }
  /** @param {string} id @param {unknown} payload */
  send(id, payload) { this.sent.push({ to: id, payload }); }
  /** @param {unknown} payload */
  async broadcast(payload) { this.sent.push({ to: null, payload }); }
}

/** @returns {{room: Room, hub: MemoryHub, rosters: import('../static/room.js').Member[][], newer: number[]}} */
function setup() {
  const hub = new MemoryHub();
  /** @type {import('../static/room.js').Member[][]} */
  const rosters = [];
  const newer = [0];
  const room = new Room(/** @type {any} */ (hub), {
    onRoster: (m) => rosters.push(m),
    onNewerVersion: () => newer[0]++,
  });
  return { room, hub, rosters, newer };
}

test('entering announces hi and present; hi from others is answered only in the call', () => {
  const { room, hub } = setup();
  room.handle('9', { k: 'hi' });
  assert.equal(hub.sent.length, 0, 'answered hi before entering the call');
  room.update({ name: 'Ada', cam: true, mic: true });
  room.enter();
  assert.deepEqual(hub.sent.map((s) => s.payload.k), ['hi', 'present']);
  hub.sent.length = 0;
  room.handle('9', { k: 'hi' });
  assert.equal(hub.sent.length, 1);
  assert.equal(hub.sent[0].to, '9');
  const p = hub.sent[0].payload;
  assert.equal(p.k, 'present');
  assert.equal(p.name, 'Ada');
  assert.equal(p.cam, true);
  assert.equal(p.meta.mic, true);
  assert.equal(p.meta['~kbz'].p, PROTOCOL_VERSION);
  room.close();
});

test('present adds a member once, with a clean name; bye removes it', () => {
  const { room, rosters } = setup();
  room.handle('9', { k: 'present', name: '  ' + 'N'.repeat(60) + ' ', cam: 'yes', avatar: 'x'.repeat(30) });
  assert.equal(rosters.length, 1);
  const m = rosters[0][0];
  assert.equal(m.id, '9');
  assert.equal(m.name, 'N'.repeat(40));
  assert.equal(m.cam, false, 'cam must be the boolean true to count');
  assert.equal(m.avatar.length, 16);
  room.handle('9', { k: 'present', name: '  ' + 'N'.repeat(60) + ' ', cam: 'yes', avatar: 'x'.repeat(30) });
  assert.equal(rosters.length, 1, 'an unchanged present must not re-emit the roster');
  room.handle('9', { k: 'present', name: '' });
  assert.equal(rosters.at(-1)?.[0].name, 'Guest');
  room.handle('9', { k: 'bye' });
  assert.deepEqual(rosters.at(-1), []);
  room.close();
});

test('frames from ourselves, non-objects and unknown kinds are ignored', () => {
  const { room, rosters } = setup();
  room.handle('5', { k: 'present', name: 'me' });
  room.handle('9', 'present');
  room.handle('9', [1, 2]);
  room.handle('9', { k: 'future-thing' });
  assert.equal(rosters.length, 0);
  room.close();
});

test('a member not refreshed for 8 s is reaped; a fresh one stays', () => {
  const { room, rosters } = setup();
  room.handle('9', { k: 'present', name: 'old' });
  room.handle('10', { k: 'present', name: 'new' });
  const old = room.members.get('9');
  assert.ok(old);
  old.seen -= 8001;
  room.reap();
  assert.deepEqual(rosters.at(-1)?.map((m) => m.id), ['10']);
  room.close();
});

test('a peer on a newer protocol version raises the notice', () => {
  const { room, newer } = setup();
  room.handle('9', { k: 'present', name: 'a', meta: { '~kbz': { p: PROTOCOL_VERSION } } });
  assert.equal(newer[0], 0);
  room.handle('9', { k: 'present', name: 'a', meta: { '~kbz': { p: PROTOCOL_VERSION + 1 } } });
  assert.equal(newer[0], 1);
  room.close();
});

test('leaving says bye to every known member and to the room', () => {
  const { room, hub } = setup();
  room.enter();
  room.handle('9', { k: 'present', name: 'a' });
  room.handle('11', { k: 'present', name: 'b' });
  hub.sent.length = 0;
  room.leave();
  assert.deepEqual(hub.sent.map((s) => [s.to, s.payload.k]), [['9', 'bye'], ['11', 'bye'], [null, 'bye']]);
  room.close();
});

test('sig payloads go to the handler', () => {
  const hub = new MemoryHub();
  /** @type {[string, unknown][]} */
  const sigs = [];
  const room = new Room(/** @type {any} */ (hub), { onSig: (id, p) => sigs.push([id, p]) });
  room.handle('9', { k: 'sig', payload: { sdp: 'x' } });
  assert.deepEqual(sigs, [['9', { sdp: 'x' }]]);
  room.close();
});
