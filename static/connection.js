/*
 * The connection: one WebSocket to /ws speaking the JSON protocol of
 * docs/protocol.md, with back-off, keep-alive and request ids.
 *
 * The panels plug in without this module knowing them: they handle their
 * frame types (handleFrame), say how their requests react to an error reply
 * or a lost socket (handleRequests), and follow the socket and the broker
 * (onConnection).
 */

import { CONFIG } from './config.js';
import { ui, notice } from './dom.js';

/** The socket and its bookkeeping. */
export const conn = {
  ws: null,
  state: 'closed',
  backoff: CONFIG.RECONNECT_MIN_MS,
  retryTimer: 0,
  retryAt: 0,
  countdownTimer: 0,
  openedAt: 0,
  lastRx: 0,
  nextId: 1,
  pending: new Map(), // id -> { kind, ...context }
  brokerConnected: false,
  instance: '', // the server instance of the last status frame (docs/protocol.md)
};

/** Handlers of the frame types the panels own, by type (see onFrame). */
const frameHandlers = new Map();

/**
 * Per request kind: `failed(ctx, msg, text)` on an error reply, `lost(ctx)`
 * when the socket closes first, and `done(ctx, msg)` on the success reply
 * (for kinds that share a reply type with another panel's requests: a
 * `published` for the retained panel's clear is not the publish form's).
 */
const requestKinds = new Map();

/** Listeners of the socket opening, closing, and the broker coming back. */
const listeners = { open: [], closed: [], brokerBack: [] };

/** `fn(msg)` handles server frames of `type`. */
export function handleFrame(type, fn) {
  frameHandlers.set(type, fn);
}

/** How requests sent with `{ kind }` react to a success reply, an error reply or a lost socket; all optional. */
export function handleRequests(kind, reactions) {
  requestKinds.set(kind, reactions);
}

/** `fn()` runs on `event`: 'open' (socket open), 'closed' (socket lost), 'brokerBack' (broker reconnected). */
export function onConnection(event, fn) {
  listeners[event].push(fn);
}

function emit(event) {
  for (const fn of listeners[event]) fn();
}

function wsUrl() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return proto + '//' + location.host + '/ws';
}

function setSocketState(state) {
  conn.state = state;
  ui.socketStatus.textContent = 'socket: ' + state;
  ui.socketStatus.dataset.state = state;
  document.body.dataset.socket = state === 'open' ? 'open' : 'closed';
  ui.reconnectNow.hidden = state !== 'closed';
  if (state !== 'closed') {
    ui.socketRetry.hidden = true;
    clearInterval(conn.countdownTimer);
    conn.countdownTimer = 0;
  }
}

export function setBrokerState(connected, broker) {
  const was = conn.brokerConnected;
  conn.brokerConnected = connected;
  ui.brokerStatus.textContent = connected ? 'broker: connected' : 'broker: disconnected';
  ui.brokerStatus.dataset.state = connected ? 'connected' : 'disconnected';
  document.body.dataset.broker = connected ? 'connected' : 'disconnected';
  if (typeof broker === 'string' && broker) {
    ui.brokerUrl.textContent = broker;
    ui.brokerUrl.title = 'Broker: ' + broker;
  }
  return was;
}

export function connect() {
  clearTimeout(conn.retryTimer);
  conn.retryTimer = 0;
  if (conn.ws) return;
  setSocketState('connecting');
  let ws;
  try {
    ws = new WebSocket(wsUrl());
  } catch (err) {
    notice('error', 'Cannot open WebSocket: ' + err.message, { key: 'ws-open' });
    onSocketClosed();
    return;
  }
  conn.ws = ws;
  ws.addEventListener('open', () => { if (conn.ws === ws) onSocketOpen(); });
  ws.addEventListener('message', (ev) => { if (conn.ws === ws) onFrame(ev.data); });
  ws.addEventListener('close', () => {
    if (conn.ws !== ws) return;
    conn.ws = null;
    onSocketClosed();
  });
  // 'error' is always followed by 'close'; nothing to do here.
}

function onSocketOpen() {
  conn.openedAt = Date.now();
  conn.lastRx = conn.openedAt;
  setSocketState('open');
  emit('open');
}

function onSocketClosed() {
  const lived = conn.openedAt ? Date.now() - conn.openedAt : 0;
  conn.openedAt = 0;
  if (lived >= CONFIG.STABLE_OPEN_MS) conn.backoff = CONFIG.RECONNECT_MIN_MS;
  setSocketState('closed');
  // While the socket is down the broker state is unknown: show it as down.
  setBrokerState(false);
  failPendingRequests();
  emit('closed');
  scheduleReconnect();
}

function scheduleReconnect() {
  clearTimeout(conn.retryTimer);
  const delay = conn.backoff;
  conn.backoff = Math.min(conn.backoff * 2, CONFIG.RECONNECT_MAX_MS);
  conn.retryAt = Date.now() + delay;
  conn.retryTimer = setTimeout(connect, delay);
  updateRetryCountdown();
  clearInterval(conn.countdownTimer);
  conn.countdownTimer = setInterval(updateRetryCountdown, 200);
}

function updateRetryCountdown() {
  const left = Math.max(0, conn.retryAt - Date.now());
  ui.socketRetry.hidden = false;
  ui.socketRetry.textContent = 'retrying in ' + (left / 1000).toFixed(1) + 's';
}

export function reconnectNow() {
  if (conn.ws) return;
  conn.backoff = CONFIG.RECONNECT_MIN_MS;
  connect();
}

/** Keep-alive: ping now and then; drop a socket that stays silent. */
export function keepAlive() {
  const ws = conn.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  if (Date.now() - conn.lastRx > CONFIG.PING_INTERVAL_MS + CONFIG.PING_TIMEOUT_MS) {
    conn.ws = null;
    try { ws.close(); } catch (_) { /* ignore */ }
    onSocketClosed();
    return;
  }
  send({ type: 'ping' });
}

/** Send a request with a fresh id; remember `context` for the reply. Returns the id, or null when not open. */
export function send(msg, context) {
  const ws = conn.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return null;
  const id = conn.nextId++;
  if (context) conn.pending.set(id, Object.assign({ sentAt: Date.now() }, context));
  try {
    ws.send(JSON.stringify(Object.assign({}, msg, { id })));
  } catch (err) {
    conn.pending.delete(id);
    return null;
  }
  return id;
}

export function takePending(id) {
  if (id === undefined || id === null) return null;
  let key = id;
  if (!conn.pending.has(key) && typeof id === 'string' && /^\d+$/.test(id)) key = Number(id);
  const ctx = conn.pending.get(key);
  if (ctx) conn.pending.delete(key);
  return ctx || null;
}

/** A success reply to a request whose kind has a `done` reaction goes there; true when it did. */
function settleRequest(msg) {
  if (msg.id === undefined || msg.id === null) return false;
  let key = msg.id;
  if (!conn.pending.has(key) && typeof key === 'string' && /^\d+$/.test(key)) key = Number(key);
  const ctx = conn.pending.get(key);
  const kind = ctx && requestKinds.get(ctx.kind);
  if (!kind || !kind.done) return false;
  conn.pending.delete(key);
  kind.done(ctx, msg);
  return true;
}

function failPendingRequests() {
  for (const ctx of conn.pending.values()) {
    const kind = requestKinds.get(ctx.kind);
    if (kind && kind.lost) kind.lost(ctx);
  }
  conn.pending.clear();
}

function onFrame(data) {
  conn.lastRx = Date.now();
  if (typeof data !== 'string') return;
  let msg;
  try {
    msg = JSON.parse(data);
  } catch (_) {
    notice('error', 'Server sent a frame that is not JSON.', { key: 'bad-frame' });
    return;
  }
  if (!msg || typeof msg !== 'object') return;
  switch (msg.type) {
    case 'status': onStatus(msg); break;
    case 'pong': takePending(msg.id); break;
    case 'error': onServerError(msg); break;
    case 'lagged': onLagged(msg); break;
    default: {
      // message, subscribed, unsubscribed, published: the panels' business.
      // Unknown types are ignored (forward compatible).
      if (settleRequest(msg)) break;
      const handler = frameHandlers.get(msg.type);
      if (handler) handler(msg);
    }
  }
}

/**
 * Behind a load balancer a reconnect may land on another instance of the
 * server: say so, since the panels' subscriptions are being made again there.
 */
function noteInstance(instance) {
  if (typeof instance !== 'string' || !instance) return;
  const before = conn.instance;
  conn.instance = instance;
  if (!before || before === instance) return;
  notice('info', 'Reconnected to another server (' + instance + '): your subscriptions are restored there.',
    { key: 'reconnected', testid: 'reconnected-notice', timeout: 20000 });
}

function onStatus(msg) {
  noteInstance(msg.instance);
  const connected = msg.connected === true;
  const was = setBrokerState(connected, msg.broker);
  if (connected && !was) emit('brokerBack');
}

function onServerError(msg) {
  const ctx = takePending(msg.id);
  const text = formatServerError(msg);
  if (!ctx) {
    notice('error', text);
    return;
  }
  const kind = requestKinds.get(ctx.kind);
  if (kind && kind.failed) kind.failed(ctx, msg, text);
  else notice('error', text);
}

let laggedTotal = 0;
function onLagged(msg) {
  const dropped = Number(msg.dropped) || 0;
  laggedTotal += dropped;
  const text = laggedTotal === dropped
    ? 'Server dropped ' + dropped + ' messages: this page could not keep up.'
    : 'Server dropped ' + dropped + ' more messages (' + laggedTotal + ' in total): this page could not keep up.';
  // data-dropped: the total as a number, for tests (not part of the contract).
  notice('warn', text, { key: 'lagged', testid: 'lagged-notice' }).dataset.dropped = String(laggedTotal);
}

function formatServerError(msg) {
  const text = typeof msg.message === 'string' && msg.message ? msg.message : 'request failed';
  return msg.code ? text + ' (' + msg.code + ')' : text;
}

/** Reconnect promptly on request, and when the network or the tab comes back. */
export function initConnection() {
  ui.reconnectNow.addEventListener('click', reconnectNow);
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && !conn.ws) reconnectNow();
  });
}
