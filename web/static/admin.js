// The operator page: unlock with the code on the box's screen, then change
// the Wi-Fi, where guests come from and the calls, and see who is here.
// Every change goes through /api/admin/ (internal/admin); the session is an
// HttpOnly cookie this script never sees.

/**
 * @typedef {{ssid: string, passphrase: string, security: string, hidden: boolean,
 *   country: string, channel: number, ap_isolation: boolean}} WiFi
 * @typedef {{default_room: string, room_cap: number}} Calls
 * @typedef {{source: string, venue_ssid?: string, venue_passphrase?: string}} Guests
 * @typedef {{id: number, name?: string, ip: string, relay_kbps: number, drops: number}} Member
 * @typedef {{name: string, locked: boolean, members: Member[]}} Room
 * @typedef {{mac: string, ip?: string, signal_dbm: number, since: string, name?: string}} Station
 * @typedef {{version: string, uptime_s: number, temp_c: number|null, perm_free_bytes: number, clock_set: boolean}} Box
 * @typedef {{settings: {wifi: WiFi, calls: Calls, guests: Guests}, channels: number[], hotspot: string,
 *   stations: Station[], rooms: Room[], box: Box}} State
 */

const REFRESH_MS = 3000;
// Passphrases the operator reads out or types: no 0/O/1/l.
const PASS_ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function el(id, type) {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`operator page: #${id} missing`);
  return e;
}

/**
 * Calls the admin API. A 401 means the session ended: back to the unlock form.
 * @param {string} path below /api/admin/
 * @param {object} [body] sent as JSON with POST; GET without
 * @returns {Promise<any>}
 */
async function api(path, body) {
  /** @type {RequestInit} */
  const init = body === undefined ? { credentials: 'same-origin' } : {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  };
  const resp = await fetch(`/api/admin/${path}`, init);
  if (resp.status === 401 && path !== 'login') {
    showLocked();
    throw new Error('The session ended: unlock again.');
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(typeof data.error === 'string' ? data.error : `${resp.status} ${resp.statusText}`);
  return data;
}

/**
 * @param {string} text
 * @param {'info'|'error'} [tone]
 */
function banner(text, tone = 'info') {
  const b = el('banner', HTMLElement);
  b.textContent = text;
  b.dataset.tone = tone;
  b.hidden = false;
  clearTimeout(Number(b.dataset.timer));
  b.dataset.timer = String(setTimeout(() => { b.hidden = true; }, 6000));
}

/** @type {ReturnType<typeof setInterval>|undefined} */
let refreshTimer;
/** Whether a form is being edited: refreshes then leave its fields alone. */
const dirty = new Set();

function showLocked() {
  clearInterval(refreshTimer);
  el('panel', HTMLElement).hidden = true;
  el('logout', HTMLButtonElement).hidden = true;
  el('unlock', HTMLElement).hidden = false;
  el('code', HTMLInputElement).focus();
}

async function showPanel() {
  el('unlock', HTMLElement).hidden = true;
  el('panel', HTMLElement).hidden = false;
  el('logout', HTMLButtonElement).hidden = false;
  dirty.clear();
  await refresh();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
}

async function refresh() {
  /** @type {State} */
  const st = await api('state');
  render(st);
}

/**
 * @param {string} id
 * @param {string} value
 */
function setValue(id, value) {
  const e = document.getElementById(id);
  if (e instanceof HTMLInputElement || e instanceof HTMLSelectElement) e.value = value;
}

/** @param {State} st */
function render(st) {
  const { wifi, calls, guests } = st.settings;
  if (!dirty.has('wifi-form')) {
    setValue('wifi-ssid', wifi.ssid);
    setValue('wifi-security', wifi.security || 'wpa2');
    setValue('wifi-pass', wifi.passphrase);
    setValue('wifi-country', wifi.country);
    const ch = el('wifi-channel', HTMLSelectElement);
    const channels = st.channels.length ? st.channels : [1, 6, 11];
    ch.replaceChildren(...channels.map((c) => new Option(String(c), String(c))));
    ch.value = String(wifi.channel || channels[0]);
    el('wifi-hidden', HTMLInputElement).checked = wifi.hidden;
    el('wifi-isolate', HTMLInputElement).checked = wifi.ap_isolation;
  }
  if (!dirty.has('guests-form')) {
    setValue('guests-source', (guests && guests.source) || 'wifi');
    setValue('guests-venue-ssid', (guests && guests.venue_ssid) || '');
    setValue('guests-venue-pass', (guests && guests.venue_passphrase) || '');
  }
  if (!dirty.has('calls-form')) {
    setValue('calls-room', calls.default_room);
    setValue('calls-cap', String(calls.room_cap));
  }
  renderRooms(st.rooms);
  renderStations(st.stations, st.hotspot);
  renderBox(st.box);
}

/** @param {Room[]} rooms */
function renderRooms(rooms) {
  const list = el('rooms', HTMLElement);
  if (!rooms.length) {
    list.replaceChildren(text('p', 'Nobody is in a call.', 'muted'));
    return;
  }
  list.replaceChildren(...rooms.map((room) => {
    const item = document.createElement('div');
    item.className = 'item';
    item.dataset.room = room.name;
    const head = row(text('strong', `#${room.name || '(no room)'} · ${room.members.length}${room.locked ? ' · locked' : ''}`),
      button(room.locked ? 'Unlock room' : 'Lock room', 'secondary', () => change('rooms/lock', { room: room.name, locked: !room.locked },
        room.locked ? `#${room.name} is open again.` : `Nobody new can join #${room.name}.`)),
      button('End room', 'danger', () => {
        if (confirm(`End the call in #${room.name} for everyone?`)) change('rooms/end', { room: room.name }, `#${room.name} ended.`);
      }));
    const members = room.members.map((m) => {
      const r = row(text('span', `${m.name || 'Guest'} · ${m.ip} · ${Math.round(m.relay_kbps)} kb/s${m.drops ? ` · ${m.drops} drops` : ''}`, 'meta'),
        button('Kick', 'secondary', () => {
          if (confirm(`Remove ${m.name || 'this guest'} and keep them out for 10 minutes?`)) {
            change('kick', { id: m.id, minutes: 10 }, `${m.name || 'The guest'} was removed.`);
          }
        }));
      r.dataset.member = String(m.id);
      return r;
    });
    item.replaceChildren(head, ...members);
    return item;
  }));
}

/**
 * @param {Station[]} stations
 * @param {string} hotspot
 */
function renderStations(stations, hotspot) {
  const list = el('stations', HTMLElement);
  if (!stations.length) {
    list.replaceChildren(text('p', hotspot === 'running' ? 'No device is on the Wi-Fi.' : `Wi-Fi: ${hotspot || 'unknown'}`, 'muted'));
    return;
  }
  list.replaceChildren(...stations.map((s) => {
    const item = document.createElement('div');
    item.className = 'item';
    const since = new Date(s.since);
    item.append(text('strong', s.name || s.ip || s.mac),
      text('div', `${s.mac} · ${s.ip || 'no address yet'} · ${s.signal_dbm} dBm · since ${since.toLocaleTimeString()}`, 'meta'));
    return item;
  }));
}

/** @param {Box} box */
function renderBox(box) {
  /** @type {[string, string][]} */
  const facts = [
    ['Version', box.version],
    ['Up for', duration(box.uptime_s)],
    ['Temperature', box.temp_c === null ? 'no sensor' : `${box.temp_c.toFixed(1)} °C`],
    ['Free on /perm', `${(box.perm_free_bytes / 2 ** 20).toFixed(0)} MiB`],
    ['Clock', box.clock_set ? 'set' : 'not set (no network time yet)'],
  ];
  el('box', HTMLElement).replaceChildren(...facts.flatMap(([k, v]) => [text('dt', k), text('dd', v)]));
}

/** @param {number} s */
function duration(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : `${m} min`;
}

/**
 * @param {string} tag
 * @param {string} content
 * @param {string} [cls]
 */
function text(tag, content, cls) {
  const e = document.createElement(tag);
  e.textContent = content;
  if (cls) e.className = cls;
  return e;
}

/** @param {...HTMLElement} children */
function row(...children) {
  const r = document.createElement('div');
  r.className = 'row';
  r.append(...children);
  return r;
}

/**
 * @param {string} label
 * @param {string} cls
 * @param {() => void} onClick
 */
function button(label, cls, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

/**
 * Sends one change, says how it went, and shows the new state.
 * @param {string} path
 * @param {object} body
 * @param {string} done what to tell the operator on success
 * @returns {Promise<boolean>}
 */
async function change(path, body, done) {
  try {
    await api(path, body);
    banner(done);
    await refresh();
    return true;
  } catch (err) {
    banner(err instanceof Error ? err.message : String(err), 'error');
    return false;
  }
}

function newPassphrase() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => PASS_ALPHABET[b % PASS_ALPHABET.length]).join('');
}


/**
 * @param {string} formId
 * @param {() => Promise<boolean>} submit
 */
function onForm(formId, submit) {
  const form = el(formId, HTMLFormElement);
  form.addEventListener('input', () => dirty.add(formId));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (await submit()) dirty.delete(formId);
  });
}

function wire() {
  el('unlock-form', HTMLFormElement).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = el('unlock-msg', HTMLElement);
    const code = el('code', HTMLInputElement);
    try {
      await api('login', { code: code.value.trim() });
      code.value = '';
      msg.hidden = true;
      await showPanel();
    } catch (err) {
      msg.textContent = err instanceof Error ? err.message : String(err);
      msg.dataset.tone = 'error';
      msg.hidden = false;
    }
  });
  el('logout', HTMLButtonElement).addEventListener('click', async () => {
    await api('logout', {}).catch(() => {});
    showLocked();
  });
  el('wifi-newpass', HTMLButtonElement).addEventListener('click', () => {
    setValue('wifi-pass', newPassphrase());
    dirty.add('wifi-form');
  });
  onForm('wifi-form', () => change('wifi', {
    ssid: el('wifi-ssid', HTMLInputElement).value.trim(),
    passphrase: el('wifi-pass', HTMLInputElement).value,
    security: el('wifi-security', HTMLSelectElement).value,
    hidden: el('wifi-hidden', HTMLInputElement).checked,
    country: el('wifi-country', HTMLInputElement).value.trim().toUpperCase(),
    channel: Number(el('wifi-channel', HTMLSelectElement).value),
    ap_isolation: el('wifi-isolate', HTMLInputElement).checked,
  }, 'Wi-Fi saved: it restarts now, and the screen shows the new QR.'));
  onForm('guests-form', () => {
    /** @type {Guests} */
    const guests = {
      source: el('guests-source', HTMLSelectElement).value,
      venue_ssid: el('guests-venue-ssid', HTMLInputElement).value.trim(),
      venue_passphrase: el('guests-venue-pass', HTMLInputElement).value,
    };
    const done = guests.source === 'wifi'
      ? 'Saved: guests join over the box\'s Wi-Fi only. Restart the hub for the call QR to follow.'
      : 'Saved: the venue\'s network reaches the box now. Restart the hub for the call QR to carry the Ethernet address.';
    return change('guests', guests, done);
  });
  onForm('calls-form', () => change('calls', {
    default_room: el('calls-room', HTMLInputElement).value.trim(),
    room_cap: Number(el('calls-cap', HTMLInputElement).value),
  }, 'Call settings saved.'));
  for (const b of document.querySelectorAll('[data-restart]')) {
    if (!(b instanceof HTMLButtonElement)) continue;
    const service = b.dataset.restart || '';
    b.addEventListener('click', () => change('restart', { service }, `Restarting ${service}…`));
  }
  el('reboot', HTMLButtonElement).addEventListener('click', () => {
    if (confirm('Reboot the box? Every call drops for about a minute.')) change('reboot', {}, 'Rebooting…');
  });
}

wire();
// A session cookie from earlier may still be valid.
refresh().then(showPanel, showLocked);
