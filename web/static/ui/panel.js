// The side panel: chat and the people list. A sheet over the call on a
// phone, a sidebar on a wide screen.

import { byId, el, hueFor, icon, initials, setIcon } from './dom.js';

/**
 * @typedef {{text: string, mid: string, ts: number, from: string, mine: boolean, name: string}} ShownLine
 * @typedef {{id: string, name: string, self: boolean, mic: boolean, cam: boolean}} Person
 */

const LOG_MAX = 300;

export class Panel {
  /**
   * @param {{onSend: (text: string) => void, onToggle: () => void}} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.root = byId('panel', HTMLElement);
    this.log = byId('chat-log', HTMLOListElement);
    this.input = byId('chat-input', HTMLInputElement);
    this.people = byId('people', HTMLUListElement);
    this.badge = byId('chat-badge', HTMLElement);
    this.tabChat = byId('tab-chat', HTMLButtonElement);
    this.tabPeople = byId('tab-people', HTMLButtonElement);
    this.unread = 0;
    /** @type {'chat'|'people'} */
    this.tab = 'chat';
    /** @type {ShownLine[]} */
    this.lines = [];
    setIcon(byId('panel-close', HTMLButtonElement), 'close');
    setIcon(byId('chat-send', HTMLButtonElement), 'send');
    byId('panel-close', HTMLButtonElement).addEventListener('click', () => this.close());
    this.tabChat.addEventListener('click', () => this.show('chat'));
    this.tabPeople.addEventListener('click', () => this.show('people'));
    byId('chat-form', HTMLFormElement).addEventListener('submit', (e) => {
      e.preventDefault();
      const text = this.input.value;
      if (!text.trim()) return;
      this.input.value = '';
      this.handlers.onSend(text);
    });
  }

  get open() {
    return !this.root.hidden;
  }

  /**
   * Opens the panel on a tab, or closes it when that tab is already showing.
   * @param {'chat'|'people'} tab
   */
  toggle(tab) {
    if (this.open && this.tab === tab) this.close();
    else this.show(tab);
  }

  /** @param {'chat'|'people'} tab */
  show(tab) {
    this.tab = tab;
    this.root.hidden = false;
    document.body.classList.add('panel-open');
    this.tabChat.setAttribute('aria-selected', String(tab === 'chat'));
    this.tabPeople.setAttribute('aria-selected', String(tab === 'people'));
    byId('chat-pane', HTMLElement).hidden = tab !== 'chat';
    byId('people-pane', HTMLElement).hidden = tab !== 'people';
    if (tab === 'chat') {
      this.unread = 0;
      this.updateBadge();
      this.log.scrollTop = this.log.scrollHeight;
      if (window.matchMedia('(min-width: 900px)').matches) this.input.focus();
    }
    this.handlers.onToggle();
  }

  close() {
    this.root.hidden = true;
    document.body.classList.remove('panel-open');
    this.handlers.onToggle();
  }

  updateBadge() {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = this.unread > 9 ? '9+' : String(this.unread);
  }

  /**
   * Adds a line, in timestamp order.
   * @param {ShownLine} line
   */
  addLine(line) {
    this.lines.push(line);
    this.lines.sort((a, b) => a.ts - b.ts);
    if (this.lines.length > LOG_MAX) this.lines.splice(0, this.lines.length - LOG_MAX);
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.replaceChildren(...this.lines.map((l, i) => this.lineEl(l, this.lines[i - 1])));
    if (atBottom || line.mine) this.log.scrollTop = this.log.scrollHeight;
    if (!line.mine && !(this.open && this.tab === 'chat')) {
      this.unread++;
      this.updateBadge();
    }
  }

  /**
   * @param {ShownLine} l
   * @param {ShownLine|undefined} prev
   */
  lineEl(l, prev) {
    const li = el('li', l.mine ? 'line mine' : 'line');
    li.dataset.mid = l.mid;
    if (!prev || prev.from !== l.from || l.ts - prev.ts > 120000) {
      const who = el('div', 'who');
      who.append(el('span', 'who-name', l.mine ? 'You' : l.name), el('time', 'when', new Date(l.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
      who.style.setProperty('--hue', String(hueFor(l.mine ? 'self' : l.from)));
      li.append(who);
    }
    li.append(el('div', 'bubble', l.text));
    return li;
  }

  /**
   * @param {Person[]} people
   */
  setPeople(people) {
    byId('people-n', HTMLElement).textContent = String(people.length);
    this.people.replaceChildren(...people.map((p) => {
      const li = el('li', 'person');
      const av = el('span', 'avatar sm', initials(p.name));
      av.style.setProperty('--hue', String(hueFor(p.self ? 'self' : p.id)));
      const state = el('span', 'person-state');
      state.append(icon(p.mic ? 'mic' : 'micOff'), icon(p.cam ? 'cam' : 'camOff'));
      li.append(av, el('span', 'person-name', p.self ? `${p.name} (you)` : p.name), state);
      return li;
    }));
  }
}
