/*
 * Subscriptions of this page: the subscribe form, the list with each
 * filter's state (pending, active, error), unsubscribing, and subscribing
 * again after the socket reopens or the broker comes back.
 */

import { ui, h, notice, showFormError, clearFormError, setFormStatus } from './dom.js';
import { send, takePending, handleFrame, handleRequests, onConnection } from './connection.js';

/** filter -> { filter, qos, granted, state, removing, waitingBroker, el, qosEl, errEl, btn } */
export const subs = new Map();

function createSubscriptionEntry(filter, qos) {
  const qosEl = h('span', { class: 'sub-qos', 'data-testid': 'subscription-qos' });
  const btn = h('button', {
    type: 'button', class: 'icon-btn', 'data-testid': 'unsubscribe-button',
    'aria-label': 'Unsubscribe from ' + filter, title: 'Unsubscribe', text: '×',
  });
  const errEl = h('p', { class: 'sub-error', 'data-testid': 'subscription-error', role: 'alert', hidden: true });
  const name = h('span', { class: 'sub-filter mono', title: filter, text: filter });
  const el = h('li', { class: 'sub', 'data-testid': 'subscription', 'data-topic': filter, 'data-state': 'pending' },
    h('span', { class: 'sub-dot', 'aria-hidden': 'true' }), name, qosEl, btn, errEl);
  const sub = { filter, qos, granted: null, state: 'pending', removing: false, waitingBroker: false, el, qosEl, errEl, btn };
  btn.addEventListener('click', () => removeSubscription(sub));
  ui.subList.append(el);
  return sub;
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

/** Subscribe (or re-subscribe) to `filter`; origin is 'form' or 'resubscribe'. */
function subscribe(filter, qos, origin) {
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
  const id = send({ type: 'subscribe', topic: filter, qos }, { kind: 'subscribe', filter, origin, created });
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
  subscribe(filter, Number(ui.subQos.value) || 0, 'form');
}

/** Wire the subscribe form and the subscription frames. */
export function initSubscriptions() {
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
