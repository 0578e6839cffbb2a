/*
 * Pure helpers of the dashboard: payload previews and hex dumps, number
 * extraction for the chart, clock and size formatting, per-topic rate
 * counters. Nothing here touches the DOM.
 */

import { CONFIG, limits } from './config.js';

const NUMBER_RE = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** Hint for the publish form: text when the payload looks like JSON but is not. */
export function jsonHint(text) {
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
export function base64ToBytes(b64) {
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
export function hexPreview(bytes, max) {
  const n = Math.min(bytes.length, max);
  const parts = new Array(n);
  for (let i = 0; i < n; i++) parts[i] = hex2(bytes[i]);
  return parts.join(' ') + (bytes.length > n ? ' …' : '');
}

/** Classic hex dump: offset, 16 bytes, printable ASCII; `total` is the payload's full size. */
export function hexDump(bytes, maxBytes, total = bytes.length) {
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
  if (total > n) lines.push('… ' + (total - n) + ' more bytes not shown');
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
export function extractNumbers(payload) {
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
export function pickNumber(ex, field) {
  if (!ex) return undefined;
  if (field === '') return ex.scalar;
  for (const [k, v] of ex.fields) if (k === field) return v;
  return undefined;
}

/** How a payload is shown in the detail pane. */
export function formatPayload(msg, maxChars) {
  if (msg.dropped) {
    return {
      kind: 'not kept',
      text: 'This payload is no longer kept: the tree keeps at most ' + limits.treePayloadMiB +
        ' MiB of payloads, for the topics updated most recently (see Limits).',
      size: msg.size,
    };
  }
  if (msg.encoding === 'base64') {
    const bytes = base64ToBytes(msg.payload);
    if (!bytes) return { kind: 'base64 (invalid)', text: clip(msg.payload, maxChars), size: msg.payload.length };
    const size = msg.size != null ? msg.size : bytes.length;
    return { kind: 'binary · hex', text: bytes.length ? hexDump(bytes, CONFIG.HEX_MAX_BYTES, size) : '(empty)', size };
  }
  const s = msg.payload;
  const size = msg.size != null ? msg.size : utf8Length(s);
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The first `maxBytes` bytes of `s` in UTF-8 (whole characters only), as a
 * new string. A slice would keep the whole of `s` alive in V8 (a sliced
 * string points into its parent); decoding the bytes afresh does not.
 */
export function utf8Head(s, maxBytes) {
  const buf = new Uint8Array(maxBytes);
  const { written } = encoder.encodeInto(s.length > maxBytes ? s.slice(0, maxBytes) : s, buf);
  return decoder.decode(buf.subarray(0, written));
}

/** Decoded size of a base64 string, or -1 when its length is not a multiple of 4. */
export function base64Size(b64) {
  if (b64.length % 4 !== 0) return -1;
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}

/**
 * What the page keeps of a payload: at most `maxBytes` bytes (a prefix, as
 * a string of its own), the full size in bytes, and how many were kept.
 */
export function keepPayload(payload, encoding, maxBytes) {
  if (encoding === 'base64') {
    const size = base64Size(payload);
    if (size < 0) return keepPayload(payload, 'utf8', maxBytes); // not base64: shown as text
    if (size <= maxBytes) return { payload, size, kept: size, truncated: false };
    const kept = Math.max(3, Math.floor(maxBytes / 3) * 3);
    return { payload: utf8Head(payload, (kept / 3) * 4), size, kept, truncated: true };
  }
  // A UTF-8 byte is at most one UTF-16 code unit, a code unit at most 3 bytes.
  if (payload.length * 3 <= maxBytes) {
    const size = utf8Length(payload);
    return { payload, size, kept: size, truncated: false };
  }
  const size = utf8Length(payload);
  if (size <= maxBytes) return { payload, size, kept: size, truncated: false };
  const head = utf8Head(payload, maxBytes);
  return { payload: head, size, kept: utf8Length(head), truncated: true };
}

/** At most `maxChars` characters of `s`, as a string of its own (see utf8Head). */
export function charsHead(s, maxChars) {
  if (s.length <= maxChars) return s;
  let end = maxChars;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // do not split a surrogate pair
  return decoder.decode(encoder.encode(s.slice(0, end)));
}

export function utf8Length(s) {
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

export function formatClock(t) {
  const d = new Date(t);
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()) +
    '.' + String(d.getMilliseconds()).padStart(3, '0');
}

export function formatBytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

export function formatRate(r) {
  if (r <= 0) return '';
  return (r >= 10 ? r.toFixed(0) : r.toFixed(1)) + '/s';
}

/** One-line preview used in log rows and tree nodes. */
export function previewText(msg, maxChars) {
  if (msg.dropped) return '[' + formatBytes(msg.size) + ', not kept]';
  if (msg.encoding === 'base64') {
    // Decode only the head; the size is known (or follows from the base64 length).
    const b64 = msg.payload;
    const size = msg.size != null ? msg.size : base64Size(b64);
    const want = Math.max(4, Math.floor(maxChars / 3));
    const head = size < 0 ? null : base64ToBytes(b64.slice(0, Math.ceil((want + 1) / 3) * 4));
    if (!head) return b64.slice(0, maxChars);
    const shown = hexPreview(head.subarray(0, Math.min(want, size)), want);
    return '[' + size + ' B] ' + shown + (size > want ? ' …' : '');
  }
  const s = msg.payload;
  if (s.length > maxChars) return s.slice(0, maxChars) + '…';
  return msg.truncated ? s + '…' : s;
}

/** Per-topic rate counter: one bucket per second over RATE_WINDOW_S seconds. */
export function makeRate() {
  // A plain array: allocating a typed array per topic costs more under a flood of topics.
  return { buckets: new Array(CONFIG.RATE_WINDOW_S).fill(0), sec: 0 };
}

function rateAdvance(r, sec) {
  const W = r.buckets.length;
  if (sec - r.sec >= W) r.buckets.fill(0);
  else for (let s = r.sec + 1; s <= sec; s++) r.buckets[s % W] = 0;
  if (sec > r.sec) r.sec = sec;
}

export function rateHit(r, now) {
  const sec = Math.floor(now / 1000);
  rateAdvance(r, sec);
  r.buckets[sec % r.buckets.length]++;
}

export function rateValue(r, now) {
  rateAdvance(r, Math.floor(now / 1000));
  let sum = 0;
  for (const b of r.buckets) sum += b;
  return sum / r.buckets.length;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Order of topic levels in the tree and of the chart's topic list. */
export function compareNames(a, b) { return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0); }

/** The first defined value of `obj`'s `names`. */
function firstOf(obj, names) {
  for (const n of names) if (obj[n] !== undefined && obj[n] !== null) return obj[n];
  return undefined;
}

function clipProp(v) {
  const s = String(v);
  return s.length > CONFIG.PROPS_MAX_CHARS ? s.slice(0, CONFIG.PROPS_MAX_CHARS) + '…' : s;
}

/** User properties as [[key, value]] from pairs, {key|name, value} objects or a plain object. */
function userProperties(raw) {
  const out = [];
  if (Array.isArray(raw)) {
    for (const p of raw) {
      if (out.length >= CONFIG.PROPS_MAX_USER) break;
      if (Array.isArray(p) && p.length >= 2) out.push([clipProp(p[0]), clipProp(p[1])]);
      else if (p && typeof p === 'object') {
        const k = firstOf(p, ['key', 'name']);
        if (k !== undefined) out.push([clipProp(k), clipProp(p.value ?? '')]);
      }
    }
  } else if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) {
      if (out.length >= CONFIG.PROPS_MAX_USER) break;
      out.push([clipProp(k), clipProp(v)]);
    }
  }
  return out;
}

/**
 * The MQTT 5 properties of a `message` frame (its optional `properties`
 * object), bounded in count and length; null when it carries none. Names as
 * the frame gives them: content_type, message_expiry_interval,
 * response_topic, correlation_data, payload_format_indicator,
 * user_properties ([[key, value]]).
 */
export function normaliseProperties(raw) {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const props = {};
  const fields = [
    ['content_type', ['content_type', 'contentType']],
    ['message_expiry_interval', ['message_expiry_interval', 'messageExpiryInterval', 'message_expiry']],
    ['response_topic', ['response_topic', 'responseTopic']],
    ['correlation_data', ['correlation_data', 'correlationData']],
    ['payload_format_indicator', ['payload_format_indicator', 'payloadFormatIndicator']],
  ];
  for (const [name, aliases] of fields) {
    const v = firstOf(raw, aliases);
    if (v === undefined) continue;
    props[name] = typeof v === 'number' || typeof v === 'boolean' ? v : clipProp(v);
  }
  const users = userProperties(firstOf(raw, ['user_properties', 'userProperties', 'user']));
  if (users.length) props.user_properties = users;
  return Object.keys(props).length ? props : null;
}

/** Why `filter` is not a valid MQTT topic filter, or null when it is. */
export function filterProblem(filter) {
  if (filter === '') return 'a filter cannot be empty';
  if (filter.includes('\u0000')) return 'a filter cannot contain NUL';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return '"#" must be a whole level, and the last one';
    if (l.includes('+') && l !== '+') return '"+" must be a whole level';
  }
  return null;
}

/** Whether `topic` matches the MQTT filter `filter` (`+`, `#`; `$` topics need a literal first level). */
export function topicMatches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  if (t[0].startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The bytes of a payload as the page holds it (base64 decoded, text as UTF-8). */
export function payloadBytes(m) {
  if (m.encoding === 'base64') return base64ToBytes(m.payload) || new Uint8Array(0);
  return encoder.encode(m.payload);
}

/** Base64 of bytes. */
export function bytesToBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** Text of a payload (binary decoded as UTF-8, invalid bytes replaced). */
export function payloadText(m) {
  if (m.encoding !== 'base64') return m.payload;
  const bytes = base64ToBytes(m.payload);
  return bytes ? decoder.decode(bytes) : m.payload;
}
