/*
 * Subscriptions of this page: the subscribe form, the list with each
 * filter's state (pending, active, error), unsubscribing, and subscribing
 * again after the socket reopens or the broker comes back.
 *
 * Saved subscriptions (the form's "Save" box, or the star of a row) are kept
 * in localStorage (at most SAVED_SUBS_MAX) and subscribed again when the
 * page loads; unsubscribing forgets them.
 */

import { CONFIG } from './config.js';
import { ui, h, notice, showFormError, clearFormError, setFormStatus } from './dom.js';
import { send, takePending, handleFrame, handleRequests, onConnection } from './connection.js';
import { SavedList, cleanString, cleanQos } from './saved.js';

/** filter -> { filter, qos, granted, state, removing, waitingBroker, el, qosEl, errEl, btn, saveBtn } */
export const subs = new Map();

/** The saved subscriptions: [{ topic, qos }]. */
export const savedSubs = new SavedList('mqtt-actor.subscriptions', {
  max: CONFIG.SAVED_SUBS_MAX,
  clean: (x) => {
    const topic = x && cleanString(x.topic, CONFIG.ATTR_MAX_CHARS);
    return topic ? { topic, qos: cleanQos(x.qos) } : null;
  },
  id: (x) => x.topic,
});

function createSubscriptionEntry(filter, qos) {
  const qosEl = h('span', { class: 'sub-qos', 'data-testid': 'subscription-qos' });
  const btn = h('button', {
    type: 'button', class: 'icon-btn', 'data-testid': 'unsubscribe-button',
    'aria-label': 'Unsubscribe from ' + filter, title: 'Unsubscribe', text: '×',
  });
  const saveBtn = h('button', { type: 'button', class: 'icon-btn save-btn', 'data-testid': 'subscription-save' });
  const errEl = h('p', { class: 'sub-error', 'data-testid': 'subscription-error', role: 'alert', hidden: true });
  const name = h('span', { class: 'sub-filter mono', title: filter, text: filter });
  const el = h('li', { class: 'sub', 'data-testid': 'subscription', 'data-topic': filter, 'data-state': 'pending' },
    h('span', { class: 'sub-dot', 'aria-hidden': 'true' }), name, qosEl, saveBtn, btn, errEl);
  const sub = { filter, qos, granted: null, state: 'pending', removing: false, waitingBroker: false, el, qosEl, errEl, btn, saveBtn };
  btn.addEventListener('click', () => removeSubscription(sub));
  saveBtn.addEventListener('click', () => toggleSaved(sub));
  showSaved(sub);
  ui.subList.append(el);
  return sub;
}

/** The row's star: pressed when the filter is saved in this browser. */
function showSaved(sub) {
  const saved = !!savedSubs.find(sub.filter);
  sub.el.dataset.saved = saved ? 'true' : 'false';
  sub.saveBtn.setAttribute('aria-pressed', saved ? 'true' : 'false');
  sub.saveBtn.textContent = saved ? '★' : '☆';
  sub.saveBtn.title = saved ? 'Saved: subscribed again when the page loads (click to forget)' : 'Save: subscribe again when the page loads';
  sub.saveBtn.setAttribute('aria-label', (saved ? 'Forget saved subscription ' : 'Save subscription ') + sub.filter);
}

function saveSubscription(filter, qos) {
  if (filter.length > CONFIG.ATTR_MAX_CHARS) {
    notice('error', 'This filter is too long to save (at most ' + CONFIG.ATTR_MAX_CHARS + ' characters).', { key: 'save-sub' });
    return false;
  }
  if (savedSubs.put({ topic: filter, qos })) return true;
  const full = !savedSubs.find(filter) && savedSubs.items.length >= savedSubs.max;
  notice('error', full
    ? 'Cannot save "' + filter + '": at most ' + savedSubs.max + ' subscriptions are saved.'
    : 'Cannot save "' + filter + '": this browser does not let the page store it.', { key: 'save-sub' });
  return false;
}

function toggleSaved(sub) {
  if (savedSubs.find(sub.filter)) savedSubs.remove(sub.filter);
  else saveSubscription(sub.filter, sub.qos);
  showSaved(sub);
}

function setSubState(sub, state) {
  sub.state = state;
  sub.el.dataset.state = state;
  if (state === 'active' && sub.granted != null) {
    sub.qosEl.textContent = 'QoS ' + sub.granted;
    sub.qosEl.title = sub.granted !== sub.qos ? 'requested QoS ' + sub.qos + ', granted ' + sub.granted : 'granted QoS ' + sub.granted;
  } else {
    sub.qosEl.textContent = 'QoS ' + sub.qos + ' · pending';
    sub.qosEl.title = 'requested QoS ' + sub.qos + ', waiting for the server';
  }
}

function setSubError(sub, text) {
  if (text) showFormError(sub.errEl, text);
  else clearFormError(sub.errEl);
}

function updateSubscriptionCount() {
  ui.subCount.textContent = String(subs.size);
}

/** Subscribe (or re-subscribe) to `filter`; origin is 'form' or 'resubscribe'; `save` keeps it for the next load. */
function subscribe(filter, qos, origin, save = false) {
  let sub = subs.get(filter);
  const created = !sub;
  if (created) {
    sub = createSubscriptionEntry(filter, qos);
    subs.set(filter, sub);
    updateSubscriptionCount();
  }
  sub.qos = qos;
  sub.waitingBroker = false;
  setSubState(sub, 'pending');
  setSubError(sub, '');
  // A saved filter subscribed again with another QoS is saved with it.
  const saveAsked = save && !savedSubs.find(filter);
  if (save || savedSubs.find(filter)) saveSubscription(filter, qos);
  showSaved(sub);
  const id = send({ type: 'subscribe', topic: filter, qos }, { kind: 'subscribe', filter, origin, created, saveAsked });
  if (id === null && origin === 'form') {
    setFormStatus(ui.subStatus, 'Socket is not open: will subscribe to "' + filter + '" when it reconnects.');
  }
}

function onSubscribed(msg) {
  const ctx = takePending(msg.id);
  const filter = ctx ? ctx.filter : msg.topic;
  const sub = subs.get(filter);
  if (!sub || sub.removing) return;
  const granted = Number(msg.qos);
  if (!(granted >= 0 && granted <= 2)) {
    setSubState(sub, 'error');
    setSubError(sub, 'The broker refused this subscription.');
    return;
  }
  sub.granted = granted;
  setSubState(sub, 'active');
  setSubError(sub, '');
  if (ctx && ctx.origin === 'form') {
    clearFormError(ui.subError);
    setFormStatus(ui.subStatus, 'Subscribed to "' + filter + '" (QoS ' + granted + ').');
  }
}

function onSubscribeError(ctx, msg, text) {
  const sub = subs.get(ctx.filter);
  if (msg.code === 'not_connected') {
    // Keep the entry and try again as soon as the broker is back.
    if (sub) {
      sub.waitingBroker = true;
      setSubState(sub, 'pending');
      setSubError(sub, text + ': will retry when the broker connects.');
    }
    if (ctx.origin === 'form') showFormError(ui.subError, '"' + ctx.filter + '": ' + text);
    return;
  }
  if (ctx.origin === 'form') {
    showFormError(ui.subError, '"' + ctx.filter + '": ' + text);
    setFormStatus(ui.subStatus, '');
    if (sub && ctx.created && sub.state !== 'active') {
      if (ctx.saveAsked) savedSubs.remove(ctx.filter);
      dropSubscription(sub);
      return;
    }
  }
  if (sub) {
    setSubState(sub, 'error');
    setSubError(sub, text);
  }
}

function removeSubscription(sub) {
  if (sub.removing) return;
  savedSubs.remove(sub.filter);
  const id = send({ type: 'unsubscribe', topic: sub.filter }, { kind: 'unsubscribe', filter: sub.filter });
  if (id === null) {
    // No socket: the server holds nothing for us; just forget it.
    dropSubscription(sub);
    return;
  }
  sub.removing = true;
  sub.el.dataset.removing = 'true';
  sub.btn.disabled = true;
  setSubError(sub, '');
}

function onUnsubscribed(msg) {
  const ctx = takePending(msg.id);
  const filter = ctx ? ctx.filter : msg.topic;
  const sub = subs.get(filter);
  if (sub && sub.removing) dropSubscription(sub);
}

function onUnsubscribeError(ctx, text) {
  const sub = subs.get(ctx.filter);
  if (!sub) {
    notice('error', '"' + ctx.filter + '": ' + text);
    return;
  }
  sub.removing = false;
  delete sub.el.dataset.removing;
  sub.btn.disabled = false;
  setSubError(sub, 'Unsubscribe failed: ' + text);
}

function dropSubscription(sub) {
  subs.delete(sub.filter);
  sub.el.remove();
  updateSubscriptionCount();
}

function markSubscriptionsPending() {
  for (const sub of subs.values()) {
    if (sub.removing) continue;
    setSubState(sub, 'pending');
  }
}

/** After the socket (re)opens: subscribe again to everything this page holds. */
function resubscribeAll() {
  for (const sub of Array.from(subs.values())) {
    if (sub.removing) continue;
    subscribe(sub.filter, sub.qos, 'resubscribe');
  }
}

/** After the broker comes back: retry subscriptions that failed with not_connected. */
function retryWaitingSubscriptions() {
  for (const sub of Array.from(subs.values())) {
    if (sub.waitingBroker && !sub.removing) subscribe(sub.filter, sub.qos, 'resubscribe');
  }
}

function onSubscribeSubmit(ev) {
  ev.preventDefault();
  clearFormError(ui.subError);
  const filter = ui.subTopic.value.trim();
  if (!filter) {
    showFormError(ui.subError, 'Enter a topic filter, e.g. sensors/# or +/status.');
    ui.subTopic.focus();
    return;
  }
  subscribe(filter, Number(ui.subQos.value) || 0, 'form', ui.subSave.checked);
}

/** The saved subscriptions, listed as pending: the socket's 'open' subscribes them. */
function restoreSaved() {
  for (const { topic, qos } of savedSubs.load()) {
    if (subs.has(topic)) continue;
    subs.set(topic, createSubscriptionEntry(topic, qos));
    setSubState(subs.get(topic), 'pending');
  }
  updateSubscriptionCount();
}

/** Wire the subscribe form and the subscription frames. */
export function initSubscriptions() {
  restoreSaved();
  ui.subForm.addEventListener('submit', onSubscribeSubmit);
  ui.subTopic.addEventListener('input', () => clearFormError(ui.subError));

  handleFrame('subscribed', onSubscribed);
  handleFrame('unsubscribed', onUnsubscribed);
  handleRequests('subscribe', { failed: onSubscribeError });
  handleRequests('unsubscribe', {
    failed: (ctx, msg, text) => onUnsubscribeError(ctx, text),
    lost: (ctx) => {
      // The server drops a closed socket's subscriptions: nothing left to undo.
      const sub = subs.get(ctx.filter);
      if (sub && sub.removing) dropSubscription(sub);
    },
  });
  onConnection('open', resubscribeAll);
  onConnection('closed', markSubscriptionsPending);
  onConnection('brokerBack', retryWaitingSubscriptions);
}
