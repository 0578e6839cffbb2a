/*
 * mqtt-actor dashboard.
 *
 * Talks to the server over one WebSocket (/ws) using the JSON protocol in
 * PROTOCOL.md. Sections:
 *   1. config + small helpers (pure; also exported for Node when required)
 *   2. DOM helpers, notices, form feedback
 *   3. connection: socket, back-off, keep-alive, request ids
 *   4. subscriptions
 *   5. publish form
 *   6. message log (batched with requestAnimationFrame)
 *   7. topic tree + detail pane (throttled)
 *   8. chart glue (static/chart.js)
 *   9. init
 *
 * Message data is only ever put into the page with textContent /
 * createElement / setAttribute, never as HTML.
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------------------
  // 1. Config and pure helpers
  // ---------------------------------------------------------------------------

  const CONFIG = {
    LOG_MAX_ROWS: 500,          // rows kept in the log
    LOG_ROWS_PER_FRAME: 50,     // rows rendered per animation frame (more = janky under floods)
    LOG_PAYLOAD_CHARS: 2000,    // payload characters shown in a log row
    LOG_FALLBACK_MS: 250,       // flush even when rAF is throttled (hidden tab)
    TREE_RENDER_MS: 250,        // tree / detail re-render throttle
    TREE_NODES_PER_RENDER: 2000,
    TREE_AUTO_EXPAND_NODES: 400,     // nodes created expanded while the tree is smaller
    TREE_AUTO_COLLAPSE_CHILDREN: 50, // a node with more children collapses (unless the user opened it)
    RATE_WINDOW_S: 10,          // sliding window for msgs/s
    HISTORY_MAX: 300,           // per-topic payloads kept for the chart
    HISTORY_PAYLOAD_MAX: 1024,  // only short payloads go into the history
    HISTORY_BUDGET_CHARS: 8e6,  // across all topics
    NUMERIC_PROBE_MAX: 4096,    // longest payload probed for numbers
    CHART_MAX_POINTS: 2000,
    CHART_RENDER_MS: 250,
    RECONNECT_MIN_MS: 500,
    RECONNECT_MAX_MS: 10000,
    STABLE_OPEN_MS: 5000,       // an open socket this old resets the back-off
    PING_INTERVAL_MS: 20000,
    PING_TIMEOUT_MS: 15000,
    DETAIL_MAX_CHARS: 200000,
    HEX_MAX_BYTES: 4096,
    KNOWN_TOPICS_MAX: 1000,     // <datalist> suggestions
    NOTICES_MAX: 6,
  };

  const NUMBER_RE = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

  /** Hint for the publish form: text when the payload looks like JSON but is not. */
  function jsonHint(text) {
    const t = text.trim();
    if (!t || (t[0] !== '{' && t[0] !== '[')) return null;
    try {
      JSON.parse(t);
      return null;
    } catch (err) {
      return 'looks like JSON but does not parse: ' + err.message;
    }
  }

  /** Decode base64 to bytes; null when it is not valid base64. */
  function base64ToBytes(b64) {
    try {
      const bin = atob(b64.replace(/\s+/g, ''));
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    } catch (_) {
      return null;
    }
  }

  function hex2(n) { return (n < 16 ? '0' : '') + n.toString(16); }

  /** Short single-line hex preview: "0a 1b 2c …". */
  function hexPreview(bytes, max) {
    const n = Math.min(bytes.length, max);
    const parts = new Array(n);
    for (let i = 0; i < n; i++) parts[i] = hex2(bytes[i]);
    return parts.join(' ') + (bytes.length > n ? ' …' : '');
  }

  /** Classic hex dump: offset, 16 bytes, printable ASCII. */
  function hexDump(bytes, maxBytes) {
    const n = Math.min(bytes.length, maxBytes);
    const lines = [];
    for (let off = 0; off < n; off += 16) {
      const end = Math.min(off + 16, n);
      let hexPart = '';
      let ascii = '';
      for (let i = off; i < off + 16; i++) {
        if (i < end) {
          const b = bytes[i];
          hexPart += hex2(b) + ' ';
          ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
        } else {
          hexPart += '   ';
        }
        if (i === off + 7) hexPart += ' ';
      }
      lines.push(off.toString(16).padStart(8, '0') + '  ' + hexPart + ' |' + ascii + '|');
    }
    if (bytes.length > n) lines.push('… ' + (bytes.length - n) + ' more bytes not shown');
    return lines.join('\n');
  }

  function flattenNumbers(v, prefix, out, depth) {
    if (out.length >= 64) return;
    if (typeof v === 'number') {
      if (Number.isFinite(v)) out.push([prefix, v]);
    } else if (typeof v === 'boolean') {
      out.push([prefix, v ? 1 : 0]);
    } else if (typeof v === 'string') {
      const s = v.trim();
      if (NUMBER_RE.test(s)) out.push([prefix, Number(s)]);
    } else if (v && typeof v === 'object' && depth < 4) {
      if (Array.isArray(v)) {
        const n = Math.min(v.length, 32);
        for (let i = 0; i < n; i++) flattenNumbers(v[i], prefix ? prefix + '.' + i : String(i), out, depth + 1);
      } else {
        for (const k of Object.keys(v)) {
          flattenNumbers(v[k], prefix ? prefix + '.' + k : k, out, depth + 1);
          if (out.length >= 64) break;
        }
      }
    }
  }

  /**
   * Numbers in a utf8 payload. "21.5" -> {scalar: 21.5, fields: []};
   * '{"a":1,"b":{"c":2}}' -> {scalar: undefined, fields: [["a",1],["b.c",2]]};
   * anything else -> null.
   */
  function extractNumbers(payload) {
    const s = payload.trim();
    if (!s) return null;
    if (NUMBER_RE.test(s)) return { scalar: Number(s), fields: [] };
    if (s[0] !== '{' && s[0] !== '[') return null;
    let v;
    try {
      v = JSON.parse(s);
    } catch (_) {
      return null;
    }
    const fields = [];
    flattenNumbers(v, '', fields, 0);
    return fields.length ? { scalar: undefined, fields } : null;
  }

  /** Value of `field` ('' = the payload itself) in an extractNumbers() result. */
  function pickNumber(ex, field) {
    if (!ex) return undefined;
    if (field === '') return ex.scalar;
    for (const [k, v] of ex.fields) if (k === field) return v;
    return undefined;
  }

  /** How a payload is shown in the detail pane. */
  function formatPayload(msg, maxChars) {
    if (msg.encoding === 'base64') {
      const bytes = base64ToBytes(msg.payload);
      if (!bytes) return { kind: 'base64 (invalid)', text: msg.payload, size: msg.payload.length };
      return { kind: 'binary · hex', text: bytes.length ? hexDump(bytes, CONFIG.HEX_MAX_BYTES) : '(empty)', size: bytes.length };
    }
    const s = msg.payload;
    const size = utf8Length(s);
    if (s === '') return { kind: 'empty', text: '(empty payload)', size: 0 };
    const t = s.trim();
    if (t[0] === '{' || t[0] === '[') {
      try {
        return { kind: 'JSON', text: clip(JSON.stringify(JSON.parse(t), null, 2), maxChars), size };
      } catch (_) { /* fall through: show as text */ }
    }
    return { kind: 'text', text: clip(s, maxChars), size };
  }

  function clip(s, max) {
    return s.length > max ? s.slice(0, max) + '\n… (' + (s.length - max) + ' more characters)' : s;
  }

  function utf8Length(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; }
      else n += 3;
    }
    return n;
  }

  function pad2(n) { return n < 10 ? '0' + n : String(n); }

  function formatClock(t) {
    const d = new Date(t);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()) +
      '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  function formatBytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1024 / 1024).toFixed(1) + ' MiB';
  }

  function formatRate(r) {
    if (r <= 0) return '';
    return (r >= 10 ? r.toFixed(0) : r.toFixed(1)) + '/s';
  }

  /** One-line preview used in log rows and tree nodes. */
  function previewText(msg, maxChars) {
    if (msg.encoding === 'base64') {
      // Decode only the head; the size follows from the base64 length.
      const b64 = msg.payload.replace(/\s+/g, '');
      const want = Math.max(4, Math.floor(maxChars / 3));
      const head = base64ToBytes(b64.slice(0, Math.ceil((want + 1) / 3) * 4));
      if (!head || b64.length % 4 !== 0) return msg.payload.slice(0, maxChars);
      const size = (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
      const shown = hexPreview(head.subarray(0, Math.min(want, size)), want);
      return '[' + size + ' B] ' + shown + (size > want ? ' …' : '');
    }
    const s = msg.payload;
    return s.length > maxChars ? s.slice(0, maxChars) + '…' : s;
  }

  /** Per-topic rate counter: one bucket per second over RATE_WINDOW_S seconds. */
  function makeRate() {
    return { buckets: new Uint32Array(CONFIG.RATE_WINDOW_S), sec: 0 };
  }

  function rateAdvance(r, sec) {
    const W = r.buckets.length;
    if (sec - r.sec >= W) r.buckets.fill(0);
    else for (let s = r.sec + 1; s <= sec; s++) r.buckets[s % W] = 0;
    if (sec > r.sec) r.sec = sec;
  }

  function rateHit(r, now) {
    const sec = Math.floor(now / 1000);
    rateAdvance(r, sec);
    r.buckets[sec % r.buckets.length]++;
  }

  function rateValue(r, now) {
    rateAdvance(r, Math.floor(now / 1000));
    let sum = 0;
    for (const b of r.buckets) sum += b;
    return sum / r.buckets.length;
  }

  const helpers = {
    CONFIG, jsonHint, base64ToBytes, hexPreview, hexDump, extractNumbers, pickNumber,
    formatPayload, previewText, utf8Length, formatClock, formatBytes, formatRate,
    makeRate, rateHit, rateValue,
  };

  if (typeof module !== 'undefined' && module.exports) module.exports = helpers;
  if (typeof document === 'undefined') return; // loaded by Node for checks

  // ---------------------------------------------------------------------------
  // 2. DOM helpers, notices, form feedback
  // ---------------------------------------------------------------------------

  const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');
  const byId = (id) => document.getElementById(id);
  let ui = {};

  /** createElement with attributes; children are nodes or strings (as text). */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }

  /** A notice in the general area; `key` updates an existing one in place. */
  function notice(kind, text, options = {}) {
    const { key, testid, timeout } = options;
    let el = key ? ui.notices.querySelector('[data-key="' + key + '"]') : null;
    if (!el) {
      const msg = h('span', { class: 'notice-text' });
      const close = h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss notice', text: '×' });
      el = h('div', { class: 'notice notice-' + kind, role: kind === 'error' ? 'alert' : 'status', 'data-testid': testid || 'notice' }, msg, close);
      if (key) el.dataset.key = key;
      close.addEventListener('click', () => el.remove());
      ui.notices.append(el);
      while (ui.notices.childElementCount > CONFIG.NOTICES_MAX) ui.notices.firstElementChild.remove();
    }
    el.querySelector('.notice-text').textContent = text;
    if (timeout) {
      clearTimeout(el._timer);
      el._timer = setTimeout(() => el.remove(), timeout);
    }
    return el;
  }

  function showFormError(el, text) {
    el.textContent = text;
    el.hidden = false;
  }

  function clearFormError(el) {
    el.textContent = '';
    el.hidden = true;
  }

  function setFormStatus(el, text) {
    el.textContent = text;
    clearTimeout(el._timer);
    if (text) el._timer = setTimeout(() => { el.textContent = ''; }, 6000);
  }

  function formatServerError(msg) {
    const text = typeof msg.message === 'string' && msg.message ? msg.message : 'request failed';
    return msg.code ? text + ' (' + msg.code + ')' : text;
  }

  // ---------------------------------------------------------------------------
  // 3. Connection: socket, back-off, keep-alive, request ids
  // ---------------------------------------------------------------------------

  const conn = {
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
  };

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

  function setBrokerState(connected, broker) {
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

  function connect() {
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
    resubscribeAll();
  }

  function onSocketClosed() {
    const lived = conn.openedAt ? Date.now() - conn.openedAt : 0;
    conn.openedAt = 0;
    if (lived >= CONFIG.STABLE_OPEN_MS) conn.backoff = CONFIG.RECONNECT_MIN_MS;
    setSocketState('closed');
    // While the socket is down the broker state is unknown: show it as down.
    setBrokerState(false);
    failPendingRequests();
    markSubscriptionsPending();
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

  function reconnectNow() {
    if (conn.ws) return;
    conn.backoff = CONFIG.RECONNECT_MIN_MS;
    connect();
  }

  /** Keep-alive: ping now and then; drop a socket that stays silent. */
  function keepAlive() {
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
  function send(msg, context) {
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

  function takePending(id) {
    if (id === undefined || id === null) return null;
    let key = id;
    if (!conn.pending.has(key) && typeof id === 'string' && /^\d+$/.test(id)) key = Number(id);
    const ctx = conn.pending.get(key);
    if (ctx) conn.pending.delete(key);
    return ctx || null;
  }

  function failPendingRequests() {
    for (const ctx of conn.pending.values()) {
      if (ctx.kind === 'publish') {
        showFormError(ui.pubError, 'Connection lost before "' + ctx.topic + '" was confirmed; it may not have been published.');
      } else if (ctx.kind === 'unsubscribe') {
        // The server drops a closed socket's subscriptions: nothing left to undo.
        const sub = subs.get(ctx.filter);
        if (sub && sub.removing) dropSubscription(sub);
      }
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
      case 'message': onMessage(msg); break;
      case 'subscribed': onSubscribed(msg); break;
      case 'unsubscribed': onUnsubscribed(msg); break;
      case 'published': onPublished(msg); break;
      case 'pong': takePending(msg.id); break;
      case 'error': onServerError(msg); break;
      case 'lagged': onLagged(msg); break;
      default: break; // unknown types are ignored (forward compatible)
    }
  }

  function onStatus(msg) {
    const connected = msg.connected === true;
    const was = setBrokerState(connected, msg.broker);
    if (connected && !was) retryWaitingSubscriptions();
  }

  function onServerError(msg) {
    const ctx = takePending(msg.id);
    const text = formatServerError(msg);
    if (!ctx) {
      notice('error', text);
      return;
    }
    switch (ctx.kind) {
      case 'subscribe': onSubscribeError(ctx, msg, text); break;
      case 'unsubscribe': onUnsubscribeError(ctx, text); break;
      case 'publish':
        setFormStatus(ui.pubStatus, '');
        showFormError(ui.pubError, text);
        break;
      default: notice('error', text);
    }
  }

  let laggedTotal = 0;
  function onLagged(msg) {
    const dropped = Number(msg.dropped) || 0;
    laggedTotal += dropped;
    const text = laggedTotal === dropped
      ? 'Server dropped ' + dropped + ' messages: this page could not keep up.'
      : 'Server dropped ' + dropped + ' more messages (' + laggedTotal + ' in total): this page could not keep up.';
    notice('warn', text, { key: 'lagged', testid: 'lagged-notice' });
  }

  // ---------------------------------------------------------------------------
  // 4. Subscriptions
  // ---------------------------------------------------------------------------

  /** filter -> { filter, qos, granted, state, removing, waitingBroker, el, qosEl, errEl, btn } */
  const subs = new Map();

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

  // ---------------------------------------------------------------------------
  // 5. Publish form
  // ---------------------------------------------------------------------------

  let hintTimer = 0;

  function updatePublishHint() {
    clearTimeout(hintTimer);
    hintTimer = 0;
    const hint = ui.pubEncoding.value === 'utf8' ? jsonHint(ui.pubPayload.value) : null;
    ui.pubHint.textContent = hint || '';
    ui.pubHint.hidden = !hint;
  }

  function schedulePublishHint() {
    clearTimeout(hintTimer);
    hintTimer = setTimeout(updatePublishHint, 150);
  }

  function formatPublishPayload() {
    const t = ui.pubPayload.value.trim();
    try {
      ui.pubPayload.value = JSON.stringify(JSON.parse(t), null, 2);
      updatePublishHint();
    } catch (err) {
      ui.pubHint.textContent = 'cannot format: ' + err.message;
      ui.pubHint.hidden = false;
    }
  }

  function onPublishSubmit(ev) {
    ev.preventDefault();
    updatePublishHint(); // a hint never blocks sending
    clearFormError(ui.pubError);
    const topic = ui.pubTopic.value.trim();
    if (!topic) {
      showFormError(ui.pubError, 'Enter a topic to publish to.');
      ui.pubTopic.focus();
      return;
    }
    const msg = {
      type: 'publish',
      topic,
      payload: ui.pubPayload.value,
      encoding: ui.pubEncoding.value,
      qos: Number(ui.pubQos.value) || 0,
      retain: ui.pubRetain.checked,
    };
    const id = send(msg, { kind: 'publish', topic });
    if (id === null) {
      showFormError(ui.pubError, 'Socket is not open: nothing was sent.');
      return;
    }
    setFormStatus(ui.pubStatus, 'Publishing to "' + topic + '"…');
  }

  function onPublished(msg) {
    const ctx = takePending(msg.id);
    const topic = ctx ? ctx.topic : msg.topic;
    clearFormError(ui.pubError);
    setFormStatus(ui.pubStatus, 'Published to "' + topic + '" at ' + formatClock(Date.now()) + '.');
  }

  // ---------------------------------------------------------------------------
  // 6. Message log
  // ---------------------------------------------------------------------------

  const log = {
    queue: [],     // arrived, waiting for a frame
    held: [],      // arrived while paused
    paused: false,
    skipped: 0,    // never rendered (dropped to stay within bounds)
    total: 0,
    filter: '',
    scheduled: false,
    raf: 0,
    timer: 0,
    statsQueued: false,
  };

  function logEnqueue(m) {
    log.total++;
    const list = log.paused ? log.held : log.queue;
    list.push(m);
    // Amortised trim: only the newest LOG_MAX_ROWS can ever be shown.
    if (list.length > CONFIG.LOG_MAX_ROWS * 2) {
      const extra = list.length - CONFIG.LOG_MAX_ROWS;
      list.splice(0, extra);
      log.skipped += extra;
    }
    if (log.paused) scheduleLogStats();
    else scheduleLogFlush();
  }

  function scheduleLogFlush() {
    if (log.scheduled) return;
    log.scheduled = true;
    log.raf = requestAnimationFrame(flushLog);
    // rAF does not run in hidden tabs; a timer keeps the log close to live anyway.
    log.timer = setTimeout(flushLog, CONFIG.LOG_FALLBACK_MS);
  }

  function scheduleLogStats() {
    if (log.statsQueued) return;
    log.statsQueued = true;
    setTimeout(() => { log.statsQueued = false; updateLogStats(); }, 200);
  }

  function flushLog() {
    cancelAnimationFrame(log.raf);
    clearTimeout(log.timer);
    log.scheduled = false;
    if (log.paused) return;
    const q = log.queue;
    if (q.length > CONFIG.LOG_MAX_ROWS) {
      const extra = q.length - CONFIG.LOG_MAX_ROWS;
      q.splice(0, extra);
      log.skipped += extra;
    }
    const batch = q.splice(0, CONFIG.LOG_ROWS_PER_FRAME);
    if (batch.length) {
      const frag = document.createDocumentFragment();
      for (let i = batch.length - 1; i >= 0; i--) frag.append(buildLogRow(batch[i]));
      const box = ui.log;
      const keepPosition = box.scrollTop > 2;
      const before = keepPosition ? box.scrollHeight : 0;
      box.prepend(frag);
      let extra = box.childElementCount - CONFIG.LOG_MAX_ROWS;
      while (extra-- > 0) box.lastElementChild.remove();
      if (keepPosition) box.scrollTop += box.scrollHeight - before;
    }
    updateLogStats();
    if (q.length) scheduleLogFlush();
  }

  function buildLogRow(m) {
    const payloadText = previewText(m, CONFIG.LOG_PAYLOAD_CHARS);
    const flags = h('span', { class: 'msg-flags' },
      h('span', { class: 'badge badge-qos', title: 'QoS ' + m.qos, text: String(m.qos) }),
      m.retain ? h('span', { class: 'badge badge-retain', title: 'retained', text: 'R' }) : null);
    const row = h('div', { class: 'msg', 'data-testid': 'message', 'data-topic': m.topic, 'data-qos': m.qos, 'data-retain': m.retain ? 'true' : 'false' },
      h('span', { class: 'msg-time', text: formatClock(m.t) }),
      flags,
      h('span', { class: 'msg-topic mono', title: m.topic, text: m.topic }),
      h('span', { class: 'msg-payload mono' + (m.encoding === 'base64' ? ' is-binary' : ''), text: payloadText }));
    row._search = null;
    row._m = m;
    if (log.filter && !logRowMatches(row)) row.hidden = true;
    return row;
  }

  function logRowMatches(row) {
    if (!log.filter) return true;
    if (row._search === null) {
      const m = row._m;
      row._search = (m.topic + '\n' + previewText(m, CONFIG.LOG_PAYLOAD_CHARS)).toLowerCase();
    }
    return row._search.includes(log.filter);
  }

  function applyLogFilter() {
    log.filter = ui.logFilter.value.trim().toLowerCase();
    for (const row of ui.log.children) row.hidden = !logRowMatches(row);
    updateLogStats();
  }

  function updateLogStats() {
    const rows = ui.log.childElementCount;
    let shown = rows;
    if (log.filter) {
      shown = 0;
      for (const row of ui.log.children) if (!row.hidden) shown++;
    }
    let text = log.filter ? shown + ' of ' + rows + ' shown' : rows + ' shown';
    text += ' · ' + log.total + ' received';
    if (log.paused) text += ' · paused, ' + log.held.length + ' held';
    ui.logStats.textContent = text;
    ui.logSkipped.hidden = log.skipped === 0;
    ui.logSkipped.textContent = log.skipped ? log.skipped + ' skipped' : '';
    ui.logSkipped.title = 'Messages not rendered because they arrived faster than the log shows (or while paused). They are still counted in the topic tree.';
  }

  function setPaused(paused) {
    log.paused = paused;
    ui.logPause.textContent = paused ? 'Resume' : 'Pause';
    ui.logPause.setAttribute('aria-pressed', paused ? 'true' : 'false');
    ui.log.closest('.log-card').classList.toggle('is-paused', paused);
    if (!paused && log.held.length) {
      log.queue.push(...log.held);
      log.held = [];
    }
    if (!paused) scheduleLogFlush();
    updateLogStats();
  }

  function clearLog() {
    log.queue = [];
    log.held = [];
    log.skipped = 0;
    log.total = 0;
    ui.log.textContent = '';
    updateLogStats();
  }

  function onLogClick(ev) {
    const row = ev.target.closest('.msg');
    if (!row || !ui.log.contains(row)) return;
    if (window.getSelection && String(window.getSelection()).length) return; // user is selecting text
    row.classList.toggle('open');
    selectTopic(row.dataset.topic, true);
  }

  // ---------------------------------------------------------------------------
  // 7. Topic tree + detail pane
  // ---------------------------------------------------------------------------

  function makeNode(name, path, parent, depth) {
    return {
      name, path, parent, depth,
      children: new Map(),
      kidOrder: [],      // children that have DOM elements, sorted by name
      last: null,        // last message on exactly this topic
      count: 0,          // messages on exactly this topic
      subCount: 0,       // messages on this topic and below
      topics: 0,         // topics with messages at or below this node
      rate: null,
      history: [],       // [{ t, p }] short utf8 payloads, for the chart
      numeric: false,    // payload seen to carry numbers
      numProbeAt: 0,
      expanded: true,
      userToggled: false,
      el: null,
    };
  }

  const tree = {
    root: makeNode('', '', null, -1),
    byPath: new Map(),
    dirty: new Set(),
    active: new Set(),   // nodes whose rate is shown as non-zero
    timer: 0,
    lastRender: 0,
    selected: null,
    detailMsg: null,     // message currently rendered in the detail pane
    topicCount: 0,
    historyChars: 0,     // total payload characters held in node histories
  };
  tree.root.expanded = true;

  function treeAdd(m) {
    const segs = m.topic.split('/');
    let node = tree.root;
    node.subCount++;
    let path = '';
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i];
      path = i === 0 ? seg : path + '/' + seg;
      let child = node.children.get(seg);
      if (!child) {
        child = makeNode(seg, path, node, i);
        // Small trees open fully; big ones start collapsed (only shown rows get DOM).
        child.expanded = tree.byPath.size < CONFIG.TREE_AUTO_EXPAND_NODES;
        node.children.set(seg, child);
        tree.byPath.set(path, child);
        if (node !== tree.root && node.expanded && !node.userToggled &&
            node.children.size > CONFIG.TREE_AUTO_COLLAPSE_CHILDREN) {
          node.expanded = false;
        }
        tree.dirty.add(node); // parent now has children (twisty)
      }
      child.subCount++;
      tree.dirty.add(child);
      node = child;
    }
    if (node.count === 0) {
      for (let n = node; n; n = n.parent) n.topics++;
      tree.topicCount++;
      addKnownTopic(m.topic);
    }
    node.count++;
    node.last = m;
    if (!node.rate) node.rate = makeRate();
    rateHit(node.rate, m.t);
    tree.active.add(node);
    if (m.encoding !== 'base64') {
      probeNumeric(node, m);
      if (node.numeric) remember(node, m);
    }
    scheduleTreeRender();
    return node;
  }

  /** Keep recent short payloads of numeric topics so the chart can start with some history. */
  function remember(node, m) {
    if (m.payload.length > CONFIG.HISTORY_PAYLOAD_MAX) return;
    if (tree.historyChars > CONFIG.HISTORY_BUDGET_CHARS && node.path !== chart.topic) return;
    node.history.push({ t: m.t, p: m.payload });
    tree.historyChars += m.payload.length;
    if (node.history.length > CONFIG.HISTORY_MAX * 1.5) {
      const gone = node.history.splice(0, node.history.length - CONFIG.HISTORY_MAX);
      for (const e of gone) tree.historyChars -= e.p.length;
    }
  }

  /** Detect topics with numeric payloads for the chart's topic list (at most once a second per topic). */
  function probeNumeric(node, m) {
    if (node.numeric || m.payload.length > CONFIG.NUMERIC_PROBE_MAX) return;
    if (m.t - node.numProbeAt < 1000) return;
    node.numProbeAt = m.t;
    if (extractNumbers(m.payload)) {
      node.numeric = true;
      addChartTopicOption(node.path);
    }
  }

  function scheduleTreeRender() {
    if (tree.timer) return;
    const wait = Math.max(0, CONFIG.TREE_RENDER_MS - (Date.now() - tree.lastRender));
    tree.timer = setTimeout(renderTree, wait);
  }

  function renderTree() {
    tree.timer = 0;
    tree.lastRender = Date.now();
    const now = Date.now();
    let budget = CONFIG.TREE_NODES_PER_RENDER;
    for (const node of tree.dirty) {
      tree.dirty.delete(node);
      // Nodes under a collapsed parent are rendered when it is expanded.
      if (node === tree.root || !isShown(node)) continue;
      renderNode(node, now);
      if (--budget <= 0) break;
    }
    ui.treeCount.textContent = String(tree.topicCount);
    ui.tree.classList.toggle('is-empty', tree.topicCount === 0);
    if (tree.selected) renderDetail(now);
    if (tree.dirty.size) scheduleTreeRender(); // a burst of new topics: spread over renders
  }

  /** Refresh rates once a second, so they decay to zero when a topic goes quiet. */
  function tickRates() {
    const now = Date.now();
    for (const node of tree.active) {
      tree.dirty.add(node);
      if (rateValue(node.rate, now) === 0) tree.active.delete(node);
    }
    if (tree.dirty.size || tree.selected) scheduleTreeRender();
  }

  function ensureNodeElement(node) {
    if (node.el) return node.el;
    const parentList = node.parent === tree.root ? ui.treeRoot : ensureNodeElement(node.parent).childList;
    const twisty = h('button', { type: 'button', class: 'twisty', tabindex: '-1', 'aria-hidden': 'true' });
    const name = h('span', { class: 'tnode-name mono', text: node.name === '' ? '∅' : node.name, title: node.path === '' ? '(empty level)' : node.path });
    const value = h('span', { class: 'tnode-value mono' });
    const count = h('span', { class: 'tnode-count' });
    const rate = h('span', { class: 'tnode-rate' });
    const row = h('div', { class: 'tnode-row', tabindex: '0' }, twisty, name, value, h('span', { class: 'tnode-meta' }, rate, count));
    const childList = h('ul', { class: 'tnode-children', role: 'group' });
    const li = h('li', { class: 'tnode', role: 'treeitem', 'data-testid': 'tree-node', 'data-topic': node.path, 'aria-expanded': 'true' }, row, childList);
    li._node = node;
    node.el = li;
    Object.assign(li, { row, twisty, valueEl: value, countEl: count, rateEl: rate, childList });
    // Insert in sorted position among siblings. Binary search on a JS array:
    // indexing live DOM collections at random is not O(1).
    const sibs = node.parent.kidOrder;
    let lo = 0;
    let hi = sibs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareNames(sibs[mid].name, node.name) > 0) hi = mid;
      else lo = mid + 1;
    }
    parentList.insertBefore(li, sibs[lo] ? sibs[lo].el : null);
    sibs.splice(lo, 0, node);
    return li;
  }

  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  function compareNames(a, b) { return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0); }

  function renderNode(node, now) {
    const el = ensureNodeElement(node);
    const hasChildren = node.children.size > 0;
    el.classList.toggle('has-children', hasChildren);
    el.classList.toggle('collapsed', hasChildren && !node.expanded);
    if (hasChildren) el.setAttribute('aria-expanded', node.expanded ? 'true' : 'false');
    else el.removeAttribute('aria-expanded');
    el.twisty.textContent = hasChildren ? (node.expanded ? '▾' : '▸') : '';
    if (node.last) {
      el.valueEl.textContent = previewText(node.last, 80);
      el.valueEl.classList.toggle('is-binary', node.last.encoding === 'base64');
    }
    if (hasChildren) {
      el.countEl.textContent = node.topics + (node.topics === 1 ? ' topic' : ' topics') + ' · ' + node.subCount;
      el.countEl.title = node.subCount + ' messages on this topic and below';
    } else {
      el.countEl.textContent = String(node.count);
      el.countEl.title = node.count + ' messages';
    }
    el.rateEl.textContent = node.rate ? formatRate(rateValue(node.rate, now)) : '';
  }

  /** True when every ancestor is expanded. */
  function isShown(node) {
    for (let n = node.parent; n && n !== tree.root; n = n.parent) if (!n.expanded) return false;
    return true;
  }

  /** Render the shown descendants of an expanded node. */
  function renderChildren(node, now) {
    for (const child of node.children.values()) {
      renderNode(child, now);
      if (child.expanded && child.children.size) renderChildren(child, now);
    }
  }

  function toggleNode(node, expanded) {
    node.userToggled = true;
    node.expanded = expanded === undefined ? !node.expanded : expanded;
    const now = Date.now();
    renderNode(node, now);
    if (node.expanded) renderChildren(node, now);
  }

  function setAllExpanded(expanded) {
    const now = Date.now();
    for (const node of tree.byPath.values()) {
      if (!node.children.size) continue;
      node.expanded = expanded;
      node.userToggled = true;
      if (node.el) renderNode(node, now);
    }
    if (expanded) renderChildren(tree.root, now);
  }

  function onTreeClick(ev) {
    const row = ev.target.closest('.tnode-row');
    if (!row) return;
    const node = row.parentElement._node;
    if (ev.target.closest('.twisty')) {
      toggleNode(node);
      return;
    }
    selectTopic(node.path, false);
  }

  function onTreeKey(ev) {
    const row = ev.target.closest('.tnode-row');
    if (!row) return;
    const node = row.parentElement._node;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      selectTopic(node.path, false);
    } else if (ev.key === 'ArrowRight' && node.children.size) {
      toggleNode(node, true);
    } else if (ev.key === 'ArrowLeft' && node.children.size) {
      toggleNode(node, false);
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const rows = Array.from(ui.tree.querySelectorAll('.tnode-row')).filter((r) => r.offsetParent !== null);
      const i = rows.indexOf(row) + (ev.key === 'ArrowDown' ? 1 : -1);
      if (rows[i]) rows[i].focus();
    }
  }

  /** Select a topic in the tree (expanding its ancestors) and show it in the detail pane. */
  function selectTopic(path, reveal) {
    const node = tree.byPath.get(path);
    if (!node) return;
    if (tree.selected && tree.selected.el) {
      tree.selected.el.row.classList.remove('selected');
      tree.selected.el.row.removeAttribute('aria-selected');
    }
    tree.selected = node;
    tree.detailMsg = null;
    const ancestors = [];
    for (let n = node.parent; n && n !== tree.root; n = n.parent) ancestors.unshift(n);
    for (const n of ancestors) if (!n.expanded) toggleNode(n, true);
    const el = ensureNodeElement(node);
    renderNode(node, Date.now());
    el.row.classList.add('selected');
    el.row.setAttribute('aria-selected', 'true');
    if (reveal) revealInTree(el.row);
    renderDetail(Date.now());
  }

  /** Scroll the tree box (only it, never the page) so that `row` is visible. */
  function revealInTree(row) {
    const box = ui.tree;
    const r = row.getBoundingClientRect();
    const b = box.getBoundingClientRect();
    if (r.top < b.top) box.scrollTop -= b.top - r.top + 4;
    else if (r.bottom > b.bottom) box.scrollTop += r.bottom - b.bottom + 4;
  }

  function renderDetail(now) {
    const node = tree.selected;
    ui.detailEmpty.hidden = !!node;
    ui.detailBody.hidden = !node;
    ui.detailChart.disabled = !node || !node.last;
    ui.detailUse.disabled = !node || !node.last;
    if (!node) return;
    ui.detailTopic.textContent = node.path === '' ? '(empty topic level)' : node.path;
    ui.detailCount.textContent = node.children.size
      ? node.count + ' here · ' + node.subCount + ' incl. ' + (node.topics - (node.count ? 1 : 0)) + ' subtopics'
      : String(node.count);
    ui.detailRate.textContent = node.rate ? (formatRate(rateValue(node.rate, now)) || '0/s') : '0/s';
    const m = node.last;
    if (!m) {
      ui.detailTime.textContent = '–';
      ui.detailQos.textContent = '–';
      ui.detailRetain.textContent = '–';
      ui.detailSize.textContent = '–';
      ui.detailKind.textContent = 'no message';
      ui.detailPayload.textContent = 'No message on exactly this topic; ' + node.topics + ' topic(s) below.';
      return;
    }
    if (tree.detailMsg === m) return; // payload unchanged: keep selection/scroll
    tree.detailMsg = m;
    const shown = formatPayload(m, CONFIG.DETAIL_MAX_CHARS);
    ui.detailTime.textContent = formatClock(m.t);
    ui.detailQos.textContent = String(m.qos);
    ui.detailRetain.textContent = m.retain ? 'yes' : 'no';
    ui.detailSize.textContent = formatBytes(shown.size);
    ui.detailKind.textContent = shown.kind;
    ui.detailKind.dataset.kind = shown.kind.split(' ')[0].toLowerCase();
    ui.detailPayload.textContent = shown.text;
  }

  function useSelectedInPublish() {
    const node = tree.selected;
    if (!node || !node.last) return;
    ui.pubTopic.value = node.path;
    const m = node.last;
    ui.pubEncoding.value = m.encoding === 'base64' ? 'base64' : 'utf8';
    ui.pubPayload.value = m.payload;
    ui.pubQos.value = String([0, 1, 2].includes(m.qos) ? m.qos : 0);
    updatePublishHint();
    ui.pubPayload.focus();
  }

  function addKnownTopic(topic) {
    if (ui.knownTopics.childElementCount >= CONFIG.KNOWN_TOPICS_MAX) return;
    ui.knownTopics.append(h('option', { value: topic }));
  }

  // ---------------------------------------------------------------------------
  // 8. Chart glue
  // ---------------------------------------------------------------------------

  const chart = {
    view: null,        // LineChart
    topic: '',
    field: '',
    fields: new Map(), // field path -> true ('' = the payload itself)
    points: [],
    options: new Set(), // topics listed in the chart's topic <select>
    optionOrder: [],    // [{ topic, el }] sorted, for inserting new options
    timer: 0,
  };

  function addChartTopicOption(topic) {
    if (chart.options.has(topic)) return;
    chart.options.add(topic);
    const order = chart.optionOrder;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareNames(order[mid].topic, topic) > 0) hi = mid;
      else lo = mid + 1;
    }
    const el = h('option', { value: topic, text: topic });
    ui.chartTopic.insertBefore(el, order[lo] ? order[lo].el : null);
    order.splice(lo, 0, { topic, el });
  }

  function fieldLabel(f) { return f === '' ? '(value)' : f; }

  function noteChartFields(ex) {
    let added = false;
    if (ex.scalar !== undefined && !chart.fields.has('')) { chart.fields.set('', true); added = true; }
    for (const [k] of ex.fields) if (!chart.fields.has(k)) { chart.fields.set(k, true); added = true; }
    return added;
  }

  function rebuildFieldSelect() {
    const sel = ui.chartField;
    sel.textContent = '';
    for (const f of chart.fields.keys()) sel.append(h('option', { value: f, text: fieldLabel(f) }));
    sel.disabled = chart.fields.size === 0;
    if (chart.fields.has(chart.field)) sel.value = chart.field;
  }

  /** Points for the current topic/field from the topic's history. */
  function rebuildChartPoints() {
    chart.points = [];
    const node = chart.topic ? tree.byPath.get(chart.topic) : null;
    if (node) {
      for (const e of node.history) {
        const v = pickNumber(extractNumbers(e.p), chart.field);
        if (v !== undefined) chart.points.push({ t: e.t, v });
      }
    }
    scheduleChartRender(true);
  }

  function setChartTopic(topic) {
    chart.topic = topic;
    chart.fields = new Map();
    chart.field = '';
    if (topic) addChartTopicOption(topic);
    ui.chartTopic.value = topic;
    const node = topic ? tree.byPath.get(topic) : null;
    if (node) {
      for (const e of node.history) {
        const ex = extractNumbers(e.p);
        if (ex) noteChartFields(ex);
      }
    }
    chart.field = chart.fields.has('') ? '' : (chart.fields.keys().next().value || '');
    rebuildFieldSelect();
    rebuildChartPoints();
  }

  function setChartField(field) {
    chart.field = field;
    rebuildChartPoints();
  }

  function chartFeed(m) {
    if (!chart.topic || m.topic !== chart.topic || m.encoding === 'base64') return;
    const ex = extractNumbers(m.payload);
    if (!ex) return;
    if (noteChartFields(ex)) {
      if (!chart.fields.has(chart.field)) chart.field = chart.fields.has('') ? '' : chart.fields.keys().next().value;
      rebuildFieldSelect();
    }
    const v = pickNumber(ex, chart.field);
    if (v === undefined) return;
    chart.points.push({ t: m.t, v });
    if (chart.points.length > CONFIG.CHART_MAX_POINTS * 1.25) chart.points.splice(0, chart.points.length - CONFIG.CHART_MAX_POINTS);
    scheduleChartRender(false);
  }

  function scheduleChartRender(now) {
    if (now) {
      clearTimeout(chart.timer);
      chart.timer = 0;
      renderChart();
      return;
    }
    if (chart.timer) return;
    chart.timer = setTimeout(() => { chart.timer = 0; renderChart(); }, CONFIG.CHART_RENDER_MS);
  }

  function renderChart() {
    const pts = chart.points;
    let empty = 'Pick a topic with numeric values';
    if (chart.topic) empty = 'No numeric values yet for ' + chart.topic;
    if (chart.view) chart.view.setData(pts, { emptyText: empty });
    if (!pts.length) {
      ui.chartStatus.textContent = chart.topic ? 'Waiting for numeric values…' : '';
      return;
    }
    let min = Infinity;
    let max = -Infinity;
    for (const p of pts) { if (p.v < min) min = p.v; if (p.v > max) max = p.v; }
    const last = pts[pts.length - 1].v;
    ui.chartStatus.textContent = pts.length + ' points · last ' + last + ' · min ' + min + ' · max ' + max;
  }

  function clearChart() {
    chart.points = [];
    const node = chart.topic ? tree.byPath.get(chart.topic) : null;
    if (node) {
      for (const e of node.history) tree.historyChars -= e.p.length;
      node.history = [];
    }
    scheduleChartRender(true);
  }

  // ---------------------------------------------------------------------------
  // Incoming messages
  // ---------------------------------------------------------------------------

  function onMessage(raw) {
    if (typeof raw.topic !== 'string') return;
    const m = {
      topic: raw.topic,
      payload: typeof raw.payload === 'string' ? raw.payload : raw.payload == null ? '' : String(raw.payload),
      encoding: raw.encoding === 'base64' ? 'base64' : 'utf8',
      qos: Number(raw.qos) || 0,
      retain: raw.retain === true,
      t: Date.now(),
    };
    treeAdd(m);
    chartFeed(m);
    logEnqueue(m);
  }

  // ---------------------------------------------------------------------------
  // 9. Init
  // ---------------------------------------------------------------------------

  function collectElements() {
    ui = {
      brokerStatus: byTestId('broker-status'),
      brokerUrl: byTestId('broker-url'),
      socketStatus: byTestId('socket-status'),
      socketRetry: byTestId('socket-retry'),
      reconnectNow: byId('reconnect-now'),
      notices: byTestId('notices'),

      subForm: byId('subscribe-form'),
      subTopic: byTestId('subscribe-topic'),
      subQos: byTestId('subscribe-qos'),
      subError: byTestId('subscribe-error'),
      subStatus: byTestId('subscribe-status'),
      subList: byTestId('subscription-list'),
      subCount: byId('subscription-count'),

      pubForm: byId('publish-form'),
      pubTopic: byTestId('publish-topic'),
      pubPayload: byTestId('publish-payload'),
      pubQos: byTestId('publish-qos'),
      pubEncoding: byTestId('publish-encoding'),
      pubRetain: byTestId('publish-retain'),
      pubFormat: byId('publish-format'),
      pubHint: byTestId('publish-hint'),
      pubError: byTestId('publish-error'),
      pubStatus: byTestId('publish-status'),

      log: byTestId('message-log'),
      logFilter: byId('log-filter'),
      logPause: byId('log-pause'),
      logClear: byId('log-clear'),
      logStats: byId('log-stats'),
      logSkipped: byId('log-skipped'),

      tree: byTestId('topic-tree'),
      treeCount: byId('tree-count'),
      treeExpand: byId('tree-expand'),
      treeCollapse: byId('tree-collapse'),

      detailEmpty: byId('detail-empty'),
      detailBody: byId('detail-body'),
      detailTopic: byId('detail-topic'),
      detailTime: byId('detail-time'),
      detailQos: byId('detail-qos'),
      detailRetain: byId('detail-retain'),
      detailCount: byId('detail-count'),
      detailRate: byId('detail-rate'),
      detailSize: byId('detail-size'),
      detailKind: byId('detail-kind'),
      detailPayload: byId('detail-payload'),
      detailChart: byId('detail-chart'),
      detailUse: byId('detail-use'),

      chartTopic: byId('chart-topic'),
      chartField: byId('chart-field'),
      chartCanvas: byId('chart-canvas'),
      chartStatus: byId('chart-status'),
      chartClear: byId('chart-clear'),

      knownTopics: byId('known-topics'),
    };
    ui.treeRoot = h('ul', { class: 'tree-root', role: 'tree', 'aria-label': 'Topic tree' });
    ui.tree.append(ui.treeRoot);
  }

  function bindEvents() {
    ui.reconnectNow.addEventListener('click', reconnectNow);

    ui.subForm.addEventListener('submit', onSubscribeSubmit);
    ui.subTopic.addEventListener('input', () => clearFormError(ui.subError));

    ui.pubForm.addEventListener('submit', onPublishSubmit);
    ui.pubPayload.addEventListener('input', schedulePublishHint);
    ui.pubEncoding.addEventListener('change', updatePublishHint);
    ui.pubTopic.addEventListener('input', () => clearFormError(ui.pubError));
    ui.pubFormat.addEventListener('click', formatPublishPayload);
    ui.pubPayload.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        ui.pubForm.requestSubmit();
      }
    });

    let filterTimer = 0;
    ui.logFilter.addEventListener('input', () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(applyLogFilter, 120);
    });
    ui.logPause.addEventListener('click', () => setPaused(!log.paused));
    ui.logClear.addEventListener('click', clearLog);
    ui.log.addEventListener('click', onLogClick);

    ui.tree.addEventListener('click', onTreeClick);
    ui.tree.addEventListener('keydown', onTreeKey);
    ui.treeExpand.addEventListener('click', () => setAllExpanded(true));
    ui.treeCollapse.addEventListener('click', () => setAllExpanded(false));

    ui.detailChart.addEventListener('click', () => {
      if (!tree.selected) return;
      setChartTopic(tree.selected.path);
      ui.chartCanvas.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    });
    ui.detailUse.addEventListener('click', useSelectedInPublish);
    ui.chartTopic.addEventListener('change', () => setChartTopic(ui.chartTopic.value));
    ui.chartField.addEventListener('change', () => setChartField(ui.chartField.value));
    ui.chartClear.addEventListener('click', clearChart);

    // "/" focuses the log filter (unless typing somewhere).
    document.addEventListener('keydown', (ev) => {
      if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const t = ev.target;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      ev.preventDefault();
      ui.logFilter.focus();
    });

    // Reconnect promptly when the network or the tab comes back.
    window.addEventListener('online', reconnectNow);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && !conn.ws) reconnectNow();
    });
  }

  function init() {
    collectElements();
    bindEvents();
    if (typeof window.LineChart === 'function') {
      chart.view = new window.LineChart(ui.chartCanvas, { emptyText: 'Pick a topic with numeric values' });
    } else {
      ui.chartStatus.textContent = 'Chart unavailable (static/chart.js did not load).';
    }
    setBrokerState(false);
    ui.tree.classList.add('is-empty');
    updateLogStats();
    renderDetail(Date.now());
    renderChart();
    setInterval(keepAlive, CONFIG.PING_INTERVAL_MS);
    setInterval(tickRates, 1000);
    connect();

    // Handy for debugging from the console; not used by the page itself.
    window.mqttActor = {
      helpers,
      state: { conn, subs, log, tree, chart },
      selectTopic,
      setChartTopic,
    };
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
