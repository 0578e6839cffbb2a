/*
 * The views of a payload in the detail pane: auto (pretty JSON, text or a
 * hex dump, whichever fits), text, a JSON tree with collapsible nodes, a hex
 * dump, base64; and the MQTT 5 properties of a message as a list.
 *
 * Everything is built with textContent / createElement; the JSON tree uses
 * <details>, so its nodes open and close from the keyboard too. Bounded:
 * DETAIL_MAX_CHARS characters of text, HEX_MAX_BYTES bytes of hex,
 * JSON_TREE_MAX_NODES nodes of the tree.
 */

import { CONFIG } from './config.js';
import { h } from './dom.js';
import { formatPayload, hexDump, payloadBytes, payloadText, bytesToBase64 } from './format.js';

/** The views, in the order of their buttons. */
export const PAYLOAD_VIEWS = ['auto', 'text', 'json', 'hex', 'base64'];

function clip(s, max) {
  return s.length > max ? s.slice(0, max) + '\n… (' + (s.length - max) + ' more characters)' : s;
}

/**
 * What `view` shows of message `m`: `{ kind, text }` for the text views, or
 * `{ kind, tree }` (an element) for the JSON tree.
 */
export function payloadView(m, view) {
  if (m.dropped || view === 'auto') return formatPayload(m, CONFIG.DETAIL_MAX_CHARS);
  const note = m.truncated ? ' (first ' + m.kept + ' bytes kept)' : '';
  if (view === 'text') {
    const text = payloadText(m);
    return { kind: 'text' + note, text: text === '' ? '(empty payload)' : clip(text, CONFIG.DETAIL_MAX_CHARS) };
  }
  if (view === 'hex') {
    const bytes = payloadBytes(m);
    return { kind: 'hex' + note, text: bytes.length ? hexDump(bytes, CONFIG.HEX_MAX_BYTES, m.size != null ? m.size : bytes.length) : '(empty)' };
  }
  if (view === 'base64') {
    const b64 = m.encoding === 'base64' ? m.payload : bytesToBase64(payloadBytes(m));
    return { kind: 'base64' + note, text: b64 === '' ? '(empty)' : clip(b64, CONFIG.DETAIL_MAX_CHARS) };
  }
  // view === 'json'
  let value;
  try {
    value = JSON.parse(payloadText(m));
  } catch (err) {
    return { kind: 'not JSON', text: (m.truncated ? 'Only the start of this payload is kept, so it cannot be read as JSON.' : 'Not JSON: ' + err.message) };
  }
  return { kind: 'JSON tree', tree: jsonTree(value) };
}

/** A collapsible tree of `value`: objects and arrays are <details> (open to depth 2). */
export function jsonTree(value) {
  const budget = { left: CONFIG.JSON_TREE_MAX_NODES, cut: 0 };
  const root = h('div', { class: 'json-tree' });
  root.append(jsonNode(null, value, 0, budget));
  if (budget.cut) root.append(h('p', { class: 'json-more', text: '… ' + budget.cut + ' more values not shown' }));
  return root;
}

function keyLabel(key) {
  if (key === null) return null;
  return h('span', { class: typeof key === 'number' ? 'json-index' : 'json-key', text: typeof key === 'number' ? key + ': ' : JSON.stringify(key) + ': ' });
}

function jsonNode(key, v, depth, budget) {
  budget.left--;
  if (v === null || typeof v !== 'object') {
    const type = v === null ? 'null' : typeof v;
    return h('div', { class: 'json-leaf' }, keyLabel(key),
      h('span', { class: 'json-' + type, text: JSON.stringify(v) }));
  }
  const array = Array.isArray(v);
  const keys = array ? null : Object.keys(v);
  const n = array ? v.length : keys.length;
  const summary = h('summary', { class: 'json-summary' }, keyLabel(key),
    h('span', { class: 'json-brace', text: array ? '[' : '{' }),
    h('span', { class: 'json-count', text: n + (array ? (n === 1 ? ' item' : ' items') : (n === 1 ? ' key' : ' keys')) }),
    h('span', { class: 'json-brace', text: array ? ']' : '}' }));
  const children = h('div', { class: 'json-children' });
  for (let i = 0; i < n; i++) {
    if (budget.left <= 0) {
      budget.cut += n - i;
      break;
    }
    const k = array ? i : keys[i];
    children.append(jsonNode(k, v[k], depth + 1, budget));
  }
  const node = h('details', { class: 'json-node' }, summary, children);
  node.open = depth < 2;
  return node;
}

const PROPERTY_LABELS = [
  ['content_type', 'Content type'],
  ['message_expiry_interval', 'Message expiry'],
  ['response_topic', 'Response topic'],
  ['correlation_data', 'Correlation data'],
  ['payload_format_indicator', 'Payload format'],
];

function propertyText(name, v) {
  if (name === 'message_expiry_interval') return v + ' s';
  if (name === 'payload_format_indicator') return v === 1 || v === true ? 'UTF-8 text' : 'bytes (unspecified)';
  return String(v);
}

/** Fill the <dl> `dl` with the MQTT 5 properties `props` (normaliseProperties); hidden when none. */
export function renderProperties(dl, props) {
  dl.textContent = '';
  dl.hidden = !props;
  if (!props) return;
  for (const [name, label] of PROPERTY_LABELS) {
    if (props[name] === undefined) continue;
    dl.append(h('div', { 'data-property': name }, h('dt', { text: label }), h('dd', { class: 'mono', text: propertyText(name, props[name]) })));
  }
  for (const [k, v] of props.user_properties || []) {
    dl.append(h('div', { 'data-property': 'user', 'data-testid': 'detail-user-property' },
      h('dt', { text: 'User property' }), h('dd', { class: 'mono', text: k + ' = ' + v })));
  }
}
