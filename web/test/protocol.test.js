// Unit tests of the pure parts of protocol.js: the galaxy blob, the hub's
// synthesized SDP answer, TURN servers and room names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseBlob, synthAnswer, fingerprintHex, turnServersFor, meshConfig, normalizeRoom, roomFromHash, Hub,
} from '../static/protocol.js';

// 32 bytes 0x00..0x1f, base64url without padding.
const FP = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const FP_HEX = Array.from({ length: 32 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0')).join(':');

test('parseBlob reads a g2 blob with TURN and several endpoints', () => {
  const g = parseBlob(`g2|uf1|pw1|${FP}|3478,wblan,secret|10.42.0.1~4711|fd00::1~4711`);
  assert.equal(g.version, 'g2');
  assert.equal(g.ufrag, 'uf1');
  assert.equal(g.pwd, 'pw1');
  assert.equal(fingerprintHex(g.fingerprint), FP_HEX);
  assert.deepEqual(g.turn, { port: 3478, user: 'wblan', pass: 'secret' });
  assert.deepEqual(g.endpoints, [{ host: '10.42.0.1', port: 4711 }, { host: 'fd00::1', port: 4711 }]);
});

test('parseBlob reads a g1 blob, which has no TURN field', () => {
  const g = parseBlob(`g1|uf|pw|${FP}|192.168.1.5~4711`);
  assert.equal(g.turn, null);
  assert.deepEqual(g.endpoints, [{ host: '192.168.1.5', port: 4711 }]);
});

test('parseBlob drops unusable endpoints and a malformed TURN spec', () => {
  const g = parseBlob(`g2|uf|pw|${FP}|99999,u,p|bad host~1|10.0.0.1~0|10.0.0.2~70000|10.0.0.3~4711`);
  assert.equal(g.turn, null);
  assert.deepEqual(g.endpoints, [{ host: '10.0.0.3', port: 4711 }]);
});

test('parseBlob refuses broken blobs with a reason', () => {
  /** @type {[string, RegExp][]} */
  const cases = [
    ['g2|uf|pw', /too few fields/],
    [`g9|uf|pw|${FP}|h~1`, /unknown galaxy blob version g9/],
    [`g1||pw|${FP}|h~1`, /lacks ufrag/],
    [`g1|uf\r\na=x|pw|${FP}|h~1`, /odd characters/],
    ['g1|uf|pw|AAEC|h~1', /not 32 bytes/],
    [`g1|uf|pw|${FP}|nohost`, /no usable endpoint/],
  ];
  for (const [blob, want] of cases) assert.throws(() => parseBlob(blob), want, blob);
});

test('synthAnswer is an ICE-lite passive DTLS answer with one candidate per endpoint', () => {
  const g = parseBlob(`g2|uf1|pw1|${FP}|3478,u,p|10.42.0.1~4711|10.42.0.2~4712`);
  const sdp = synthAnswer(g, '0');
  assert.ok(sdp.endsWith('\r\n'));
  const lines = sdp.trimEnd().split('\r\n');
  for (const want of ['a=ice-lite', 'a=group:BUNDLE 0', 'a=ice-ufrag:uf1', 'a=ice-pwd:pw1',
    `a=fingerprint:sha-256 ${FP_HEX}`, 'a=setup:passive', 'a=mid:0', 'a=sctp-port:5000',
    'a=max-message-size:262144', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel']) {
    assert.ok(lines.includes(want), `answer lacks ${want}`);
  }
  const cands = lines.filter((l) => l.startsWith('a=candidate:'));
  assert.deepEqual(cands, [
    'a=candidate:1 1 udp 2130706431 10.42.0.1 4711 typ host generation 0',
    'a=candidate:2 1 udp 2130706430 10.42.0.2 4712 typ host generation 0',
  ]);
});

test('TURN servers: one per distinct IPv4 endpoint, relay-only config on g2', () => {
  const g = parseBlob(`g2|uf|pw|${FP}|3478,u,p|10.42.0.1~4711|10.42.0.1~4712|fd00::1~4711|10.0.0.9~4711`);
  assert.deepEqual(turnServersFor(g), [
    { urls: 'turn:10.42.0.1:3478?transport=udp', username: 'u', credential: 'p' },
    { urls: 'turn:10.0.0.9:3478?transport=udp', username: 'u', credential: 'p' },
  ]);
  assert.equal(meshConfig(g).iceTransportPolicy, 'relay');
  const g1 = parseBlob(`g1|uf|pw|${FP}|10.42.0.1~4711`);
  assert.deepEqual(meshConfig(g1), { iceServers: [] });
});

test('room names are normalized like Kibitz', () => {
  assert.equal(normalizeRoom('  Team Meeting!! '), 'team-meeting');
  assert.equal(normalizeRoom('Ünïcode ✓ room'), 'n-code-room');
  assert.equal(normalizeRoom('---'), '');
  assert.equal(normalizeRoom('a'.repeat(39) + ' b'), 'a'.repeat(39));
  assert.equal(normalizeRoom('x'.repeat(100)).length, 40);
  assert.equal(roomFromHash('#Lobby%20One?x=1'), 'lobby-one');
  assert.equal(roomFromHash('#%E0%A4%A'), 'e0-a4-a');
  assert.equal(roomFromHash(''), '');
});

test('hub frames: peers resolve the oldest waiter, from needs a safe integer id', () => {
  /** @type {[string, unknown][]} */
  const got = [];
  const hub = new Hub(parseBlob(`g1|uf|pw|${FP}|h~1`), { onFrom: (id, p) => got.push([id, p]) });
  /** @type {string[][]} */
  const resolved = [];
  hub.peerWaiters.push({ resolve: (ids) => resolved.push(ids), done: false });
  hub.onFrame({ t: 'peers', ids: [3, 'x', 1.5, 12] });
  assert.deepEqual(resolved, [['3', '12']]);
  hub.onFrame({ t: 'from', id: 7, payload: { k: 'hi' } });
  hub.onFrame({ t: 'from', id: '7', payload: { k: 'bad' } });
  hub.onFrame({ t: 'from', id: 2 ** 60, payload: { k: 'bad' } });
  hub.onFrame({ t: 'whatever' });
  assert.deepEqual(got, [['7', { k: 'hi' }]]);
});

test('hub frames of the box: notice and refused reach the handlers; kicked stops reconnecting', () => {
  /** @type {string[]} */
  const got = [];
  const hub = new Hub(parseBlob(`g1|uf|pw|${FP}|h~1`), {
    onNotice: (text) => got.push(`notice ${text}`),
    onRefused: (room, why) => got.push(`refused ${room} ${why}`),
  });
  hub.stopped = false;
  hub.onFrame({ t: 'notice', text: 'x'.repeat(400) });
  hub.onFrame({ t: 'notice', text: 42 });
  hub.onFrame({ t: 'refused', room: 'stage', why: 'locked' });
  assert.equal(hub.stopped, false, 'a locked room must not stop the hub connection');
  hub.onFrame({ t: 'refused', room: '', why: 'kicked' });
  assert.deepEqual(got, [`notice ${'x'.repeat(300)}`, 'refused stage locked', 'refused  kicked']);
  assert.equal(hub.stopped, true, 'a kicked guest must stop reconnecting');
});
