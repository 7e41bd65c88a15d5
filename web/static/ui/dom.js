// Small DOM helpers and the inline icon set (no image requests).

/**
 * The element with this id, typed by the constructor it must be.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{new(): T}} type
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return el;
}

/**
 * Creates an element with a class and optional text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** 24×24 stroke icons. */
const PATHS = {
  mic: 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM19 11a7 7 0 0 1-14 0M12 18v3',
  micOff: 'M3 3l18 18M9 9v3a3 3 0 0 0 5.1 2.1M15 9.3V6a3 3 0 0 0-5.9-.8M19 11a7 7 0 0 1-1.1 3.8M5 11a7 7 0 0 0 10.7 5.9M12 18v3',
  cam: 'M3 7h12v10H3zM15 10l6-3v10l-6-3',
  camOff: 'M3 3l18 18M15 10l6-3v10l-6-3M13 17H3V7h2M9 7h6v6',
  screen: 'M3 4h18v12H3zM8 20h8M12 16v4',
  chat: 'M4 5h16v11H9l-5 4z',
  people: 'M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM2.5 20a6.5 6.5 0 0 1 13 0M16 4.3a3.5 3.5 0 0 1 0 6.4M18 14a6.5 6.5 0 0 1 3.5 6',
  leave: 'M2.5 14.5c5.2-4.7 13.8-4.7 19 0l-2.6 3.1-3.8-1.6v-2.8a12 12 0 0 0-6.2 0V16l-3.8 1.6z',
  close: 'M6 6l12 12M18 6L6 18',
  send: 'M4 12l16-8-6 16-2-6z',
};

/** @typedef {keyof typeof PATHS} IconName */

/**
 * An inline SVG icon.
 * @param {IconName} name
 * @returns {SVGSVGElement}
 */
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.classList.add('icon');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', PATHS[name]);
  svg.append(p);
  return svg;
}

/**
 * Puts an icon into a button's `.ic` slot (or the button itself).
 * @param {HTMLElement} button
 * @param {IconName} name
 */
export function setIcon(button, name) {
  const slot = button.querySelector('.ic') ?? button;
  slot.replaceChildren(icon(name));
}

/** Avatar colours, picked by a hash of the id so they stay put. */
const HUES = [12, 28, 160, 200, 265, 330, 95, 45];

/**
 * @param {string} key
 * @returns {number} a hue
 */
export function hueFor(key) {
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return HUES[h % HUES.length];
}

/**
 * Initials for an avatar: first letters of up to two words.
 * @param {string} name
 * @returns {string}
 */
export function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  const chars = words.slice(0, 2).map((w) => Array.from(w)[0] ?? '');
  return chars.join('').toUpperCase();
}
