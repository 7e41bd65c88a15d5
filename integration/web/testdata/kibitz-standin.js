// A stand-in Kibitz client for the browser tests, written from
// docs/protocol.md alone: it imports nothing from web/static, so a bug in
// the app's protocol code cannot hide behind the same bug here. It parses
// the blob, synthesizes the hub's answer, speaks the hub frames, presence
// (hi/present/bye), the string glare rule, relay-only media links with
// three lanes and the `content` channel, and chat.
//
// Usage (evaluated in any secure-context page):
//   await window.kibitzStandin(blob, room) → 'started'; state in window.kz.
window.kibitzStandin = async (blob, room) => {
  // §1: the blob.
  const parseBlob = (text) => {
    const f = String(text).trim().split('|');
    if (f.length < 5 || (f[0] !== 'g1' && f[0] !== 'g2') || !f[1] || !f[2] || !f[3]) throw new Error('bad blob');
    const b64 = f[3].replace(/-/g, '+').replace(/_/g, '/');
    const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    if (raw.length !== 32) throw new Error('bad fingerprint');
    const fp = [...raw].map((c) => c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).join(':');
    let turn = null;
    let rest = f.slice(4);
    if (f[0] === 'g2') {
      const [port, user, pass] = f[4].split(',');
      const p = Number(port);
      if (Number.isInteger(p) && p >= 1 && p <= 65535 && user && pass) turn = { port: p, user, pass };
      rest = f.slice(5);
    }
    const endpoints = [];
    for (const e of rest) {
      const i = e.lastIndexOf('~');
      if (i <= 0) continue;
      const port = Number(e.slice(i + 1));
      if (Number.isInteger(port) && port >= 1 && port <= 65535) endpoints.push({ addr: e.slice(0, i), port });
    }
    if (!endpoints.length) throw new Error('no endpoint');
    return { ufrag: f[1], pwd: f[2], fp, turn, endpoints };
  };
  const g = parseBlob(blob);

  // §2: the answer the browser synthesizes for the hub.
  const answerFor = (offerSdp) => {
    const mid = (/\r?\na=mid:(\S+)/.exec(offerSdp) || [])[1] || '0';
    const lines = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=ice-lite', 'a=group:BUNDLE ' + mid, 'a=msid-semantic: WMS',
      'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:' + g.ufrag, 'a=ice-pwd:' + g.pwd,
      'a=fingerprint:sha-256 ' + g.fp, 'a=setup:passive', 'a=mid:' + mid, 'a=sctp-port:5000', 'a=max-message-size:262144'];
    g.endpoints.forEach((e, i) => lines.push(`a=candidate:${i + 1} 1 udp ${2130706431 - i} ${e.addr} ${e.port} typ host generation 0`));
    return lines.join('\r\n') + '\r\n';
  };

  const kz = window.kz = { self: null, roster: {}, chat: [], links: {}, stats: {}, byes: [] };
  const peers = new Set();

  // §3–4: the hub channel.
  const hubPc = new RTCPeerConnection();
  const hub = hubPc.createDataChannel('hub', { ordered: true });
  const send = (frame) => { if (hub.readyState === 'open') hub.send(JSON.stringify(frame)); };
  const to = (id, payload) => send({ t: 'to', id: Number(id), payload });
  const broadcast = (payload) => { for (const id of peers) if (id !== kz.self) to(id, payload); };
  await hubPc.setLocalDescription(await hubPc.createOffer());
  await hubPc.setRemoteDescription({ type: 'answer', sdp: answerFor(hubPc.localDescription.sdp) });

  // Local media: a tone, a moving camera picture and a still "screen".
  const canvas = document.createElement('canvas');
  canvas.width = 320; canvas.height = 240;
  const c2d = canvas.getContext('2d');
  let n = 0;
  setInterval(() => { c2d.fillStyle = `hsl(${(n++ * 7) % 360} 80% 50%)`; c2d.fillRect(0, 0, 320, 240); }, 50);
  const ac = new AudioContext();
  const osc = ac.createOscillator();
  const dest = ac.createMediaStreamDestination();
  osc.connect(dest); osc.start();
  const tracks = [dest.stream.getAudioTracks()[0], canvas.captureStream(20).getVideoTracks()[0], canvas.captureStream(1).getVideoTracks()[0]];

  // §7–8: relay-only links through the hub's TURN.
  const iceServers = g.turn ? g.endpoints.filter((e) => /^\d+\.\d+\.\d+\.\d+$/.test(e.addr))
    .map((e) => ({ urls: `turn:${e.addr}:${g.turn.port}?transport=udp`, username: g.turn.user, credential: g.turn.pass })) : [];
  const present = () => ({ k: 'present', name: 'Kibitz Kim', cam: true, avatar: '🦊',
    meta: { '~kbz': { v: '9.9.9', b: 'kz', p: 1, f: ['chat.v1', 'xfer.v1', 'xfer.v2'] } } });
  const bindContent = (id, dc) => {
    kz.links[id].dc = dc;
    dc.onmessage = (e) => {
      let m; try { m = JSON.parse(e.data); } catch { return; }
      if (m && m.k === 'chat' && typeof m.text === 'string') kz.chat.push({ from: id, text: m.text });
    };
  };
  const newLink = (id) => {
    if (kz.links[id]) kz.links[id].pc.close();
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
    const stream = new MediaStream();
    for (const t of tracks) pc.addTrack(t, stream);
    pc.onicecandidate = (e) => { if (e.candidate) to(id, { k: 'sig', payload: { c: e.candidate.toJSON() } }); };
    pc.ondatachannel = (e) => { if (e.channel.label === 'content') bindContent(id, e.channel); };
    kz.links[id] = { pc, dc: null, pending: [] };
    return pc;
  };
  const dial = async (id) => {
    const pc = newLink(id);
    bindContent(id, pc.createDataChannel('content'));
    await pc.setLocalDescription(await pc.createOffer());
    to(id, { k: 'sig', payload: { d: pc.localDescription.toJSON() } });
  };
  const onFrom = async (from, m) => {
    if (!m || typeof m !== 'object') return;
    if (m.k === 'hi') to(from, present());
    if (m.k === 'bye') { kz.byes.push(from); delete kz.roster[from]; if (kz.links[from]) { kz.links[from].pc.close(); delete kz.links[from]; } }
    if (m.k === 'present') {
      kz.roster[from] = { name: m.name, cam: !!m.cam };
      // The glare rule: the smaller id as a string dials.
      if (!kz.links[from] && String(kz.self) < from) await dial(from);
    }
    if (m.k === 'sig' && m.payload) {
      const s = m.payload;
      if (s.d && s.d.type === 'offer') {
        const pc = newLink(from);
        await pc.setRemoteDescription(s.d);
        for (const c of kz.links[from].pending.splice(0)) await pc.addIceCandidate(c).catch(() => {});
        await pc.setLocalDescription(await pc.createAnswer());
        to(from, { k: 'sig', payload: { d: pc.localDescription.toJSON() } });
      } else if (s.d && s.d.type === 'answer' && kz.links[from]) {
        await kz.links[from].pc.setRemoteDescription(s.d);
        for (const c of kz.links[from].pending.splice(0)) await kz.links[from].pc.addIceCandidate(c).catch(() => {});
      } else if (s.c && kz.links[from]) {
        const l = kz.links[from];
        if (l.pc.remoteDescription) l.pc.addIceCandidate(s.c).catch(() => {}); else l.pending.push(s.c);
      }
    }
  };
  hub.onmessage = (e) => {
    let f; try { f = JSON.parse(e.data); } catch { return; }
    if (f.t === 'id') {
      kz.self = String(f.id);
      send({ t: 'join', room });
      send({ t: 'peers' });
    } else if (f.t === 'peers' && Array.isArray(f.ids)) {
      const fresh = f.ids.map(String).filter((id) => !peers.has(id) && id !== kz.self);
      peers.clear();
      for (const id of f.ids) peers.add(String(id));
      for (const id of fresh) { to(id, { k: 'hi' }); to(id, present()); }
    } else if (f.t === 'from') {
      peers.add(String(f.id));
      onFrom(String(f.id), f.payload);
    }
  };
  setInterval(() => { send({ t: 'peers' }); broadcast(present()); }, 2500);
  setInterval(async () => {
    for (const [id, l] of Object.entries(kz.links)) {
      let frames = 0;
      (await l.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0; });
      kz.stats[id] = { state: l.pc.connectionState, frames };
    }
  }, 500);
  kz.say = (text) => {
    for (const l of Object.values(kz.links)) {
      if (l.dc && l.dc.readyState === 'open') l.dc.send(JSON.stringify({ k: 'chat', text, mid: kz.self + '#' + Date.now(), ts: Date.now() }));
    }
  };
  kz.leave = () => broadcast({ k: 'bye' });
  await new Promise((resolve, reject) => {
    hub.onopen = resolve;
    setTimeout(() => reject(new Error('the hub channel did not open in 10 s')), 10000);
  });
  return 'started';
};
