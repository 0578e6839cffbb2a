/*
 * The Retained panel: the retained messages under a filter, and clearing
 * one (an empty retained publish) after a confirmation in the page.
 *
 * Listed: what the server's `GET /api/retained` answers, plus the messages
 * this page received as retained under the filter (the server knows only
 * topics under its own subscriptions). Cleared with `DELETE
 * /api/retained?topic=T`; on a server without the route (404) the page
 * publishes the empty retained message itself over its socket, which is the
 * same thing to the broker and under the same write permission. Refusals
 * (403 forbidden, say) show in the item itself.
 *
 * Bounded: at most RETAINED_LIST_MAX items are listed.
 */

import { CONFIG } from './config.js';
import { ui, h, showFormError, clearFormError, setFormStatus } from './dom.js';
import { previewText, formatClock, topicMatches, filterProblem, keepPayload, compareNames } from './format.js';
import { apiCall, withQuery } from './http.js';
import { send, handleRequests } from './connection.js';
import { tree } from './tree.js';

/** The panel's state. */
export const retained = {
  filter: '',
  routeMissing: false, // the server answered 404: no /api/retained there
  seq: 0,              // answers to an older listing are dropped
  items: [],           // [{ topic, payload, encoding, qos, t, source, el }]
};

/** The messages this page holds as retained under `filter`, newest value per topic. */
function seenRetained(filter) {
  const out = [];
  for (const node of tree.byPath.values()) {
    const m = node.last;
    if (!node.count || !m || !m.retain || (m.payload === '' && !m.dropped)) continue;
    if (!topicMatches(filter, node.path)) continue;
    out.push({ topic: node.path, payload: m.payload, encoding: m.encoding, qos: m.qos, size: m.size, dropped: m.dropped, truncated: m.truncated, t: m.t, source: 'page' });
  }
  return out;
}

/** An item of GET /api/retained; null when malformed. */
function serverItem(x) {
  if (!x || typeof x !== 'object' || typeof x.topic !== 'string' || typeof x.payload !== 'string') return null;
  const encoding = x.encoding === 'base64' ? 'base64' : 'utf8';
  return Object.assign(keepPayload(x.payload, encoding, CONFIG.LOG_PAYLOAD_CHARS), {
    topic: x.topic,
    encoding,
    qos: Number(x.qos) || 0,
    t: Number.isFinite(x.last_seen_ms) ? x.last_seen_ms : null,
    dropped: false,
    source: 'server',
  });
}

async function list(ev) {
  if (ev) ev.preventDefault();
  clearFormError(ui.retainedError);
  const filter = ui.retainedFilter.value.trim();
  if (!filter) {
    showFormError(ui.retainedError, 'Enter a topic filter, e.g. # or sensors/#.');
    ui.retainedFilter.focus();
    return;
  }
  const problem = filterProblem(filter);
  if (problem) {
    showFormError(ui.retainedError, '"' + filter + '": ' + problem + '.');
    ui.retainedFilter.focus();
    return;
  }
  retained.filter = filter;
  const seq = ++retained.seq;
  let fromServer = [];
  let note = '';
  if (!retained.routeMissing) {
    setFormStatus(ui.retainedStatus, 'Asking the server…');
    const res = await apiCall('GET', withQuery('/api/retained', { topic: filter }));
    if (seq !== retained.seq) return;
    if (res.ok && Array.isArray(res.data)) {
      fromServer = res.data.map(serverItem).filter(Boolean);
    } else if (res.status === 404) {
      retained.routeMissing = true;
    } else {
      setFormStatus(ui.retainedStatus, '');
      showFormError(ui.retainedError, '"' + filter + '": ' + res.message + ' (' + res.code + ')');
      return;
    }
  }
  if (retained.routeMissing) note = ' (the server does not list retained messages: these are the ones this page received as retained)';
  const byTopic = new Map();
  for (const it of seenRetained(filter)) byTopic.set(it.topic, it);
  for (const it of fromServer) byTopic.set(it.topic, it); // the server's word wins
  const all = Array.from(byTopic.values()).sort((a, b) => compareNames(a.topic, b.topic));
  retained.items = all.slice(0, CONFIG.RETAINED_LIST_MAX);
  render();
  const more = all.length > retained.items.length ? ', the first ' + retained.items.length + ' listed' : '';
  setFormStatus(ui.retainedStatus, all.length + (all.length === 1 ? ' retained message' : ' retained messages') +
    ' under "' + filter + '"' + more + note + '.');
}

function render() {
  ui.retainedList.replaceChildren(...retained.items.map(itemElement));
  ui.retainedCount.textContent = String(retained.items.length);
}

function itemElement(it) {
  const topic = it.topic.length > CONFIG.ATTR_MAX_CHARS ? it.topic.slice(0, CONFIG.ATTR_MAX_CHARS) + '…' : it.topic;
  const clear = h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', 'data-testid': 'retained-clear', 'aria-label': 'Clear the retained message of ' + topic, text: 'Clear' });
  const actions = h('div', { class: 'retained-actions' }, clear);
  const err = h('p', { class: 'sub-error', 'data-testid': 'retained-item-error', role: 'alert', hidden: true });
  const el = h('li', { class: 'retained-item', 'data-testid': 'retained-item', 'data-topic': topic, 'data-source': it.source },
    h('div', { class: 'retained-main' },
      h('span', { class: 'retained-topic mono', title: topic, text: topic }),
      h('span', { class: 'retained-payload mono' + (it.encoding === 'base64' ? ' is-binary' : ''), text: previewText(it, 120) }),
      it.t ? h('span', { class: 'retained-time', text: 'seen ' + formatClock(it.t) }) : null),
    actions, err);
  it.el = el;
  Object.assign(el, { actions, err });
  clear.addEventListener('click', () => askConfirm(it));
  return el;
}

/** Replace the item's Clear button with the confirmation: Cancel (focused) or "Clear it". */
function askConfirm(it) {
  const el = it.el;
  clearFormError(el.err);
  const yes = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'retained-confirm', text: 'Clear it' });
  const no = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'retained-cancel', text: 'Cancel' });
  const box = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm clearing', 'data-testid': 'retained-confirm-box' },
    h('span', { class: 'confirm-text', text: 'Clear for every subscriber?' }), no, yes);
  const cancel = () => {
    el.actions.replaceChildren(restoreClear(it));
    el.actions.querySelector('button').focus();
  };
  no.addEventListener('click', cancel);
  yes.addEventListener('click', () => clearRetained(it, yes, no));
  box.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      cancel();
    }
  });
  el.actions.replaceChildren(box);
  no.focus();
}

function restoreClear(it) {
  const clear = h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', 'data-testid': 'retained-clear', 'aria-label': 'Clear the retained message of ' + it.topic, text: 'Clear' });
  clear.addEventListener('click', () => askConfirm(it));
  return clear;
}

async function clearRetained(it, yes, no) {
  yes.disabled = true;
  no.disabled = true;
  yes.textContent = 'Clearing…';
  if (!retained.routeMissing) {
    const res = await apiCall('DELETE', withQuery('/api/retained', { topic: it.topic }));
    if (res.ok) return cleared(it);
    if (res.status !== 404) return failed(it, res.message + ' (' + res.code + ')');
    retained.routeMissing = true;
  }
  // No route on this server: the empty retained publish, over the socket.
  const id = send({ type: 'publish', topic: it.topic, payload: '', qos: 1, retain: true }, { kind: 'retained-clear', item: it });
  if (id === null) failed(it, 'The socket is not open: nothing was cleared.');
}

function cleared(it) {
  retained.items = retained.items.filter((x) => x !== it);
  const next = it.el.nextElementSibling || it.el.previousElementSibling;
  it.el.remove();
  ui.retainedCount.textContent = String(retained.items.length);
  setFormStatus(ui.retainedStatus, 'Cleared the retained message of "' + it.topic + '".');
  const target = next && next.querySelector('button');
  (target || ui.retainedFilter).focus();
}

function failed(it, text) {
  if (!it.el.isConnected) return;
  it.el.actions.replaceChildren(restoreClear(it));
  showFormError(it.el.err, 'Not cleared: ' + text);
}

/** Wire the form and the socket's answers to a clear made over it. */
export function initRetained() {
  ui.retainedForm.addEventListener('submit', list);
  handleRequests('retained-clear', {
    done: (ctx) => cleared(ctx.item),
    failed: (ctx, msg, text) => failed(ctx.item, text),
    lost: (ctx) => failed(ctx.item, 'the connection was lost before the broker confirmed; it may or may not be cleared.'),
  });
}
