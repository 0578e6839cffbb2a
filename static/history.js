/*
 * The History panel: the last values of the selected topic, newest first,
 * each JSON value diffed against the one before it (keys added, removed,
 * changed: diff.js), exportable as JSON Lines or CSV.
 *
 * Where the values come from: the server's `GET /api/history` when it has
 * some for the topic; otherwise what this page saw. A server that records
 * history in a database answers the range form (protocol 2.1) page by page,
 * newest first: "Older" loads the page before the shown values until the
 * server has none older (`next` null), up to HISTORY_PAGED_MAX values. A
 * server without a database answers the range form 503 and the v2 form from
 * memory: the panel shows those and says why there is no Older. A server
 * without the route (404) is not asked again; a refusal (401 / 403) or an
 * empty answer falls back to the page's values, and the panel says which it
 * shows. Why an older page did not come is shown in the panel
 * (`history-error`).
 *
 * Bounded: the page keeps SEEN_PER_TOPIC values per topic, at most
 * SEEN_PAYLOAD_CHARS of each payload, and SEEN_ENTRIES_MAX values and
 * SEEN_CHARS_MAX payload characters in all; past that the topics updated
 * least recently lose their values first (never the shown one). A topic
 * evicted from the tree loses its values (app.js wires historyForget).
 * Entries keep the tree's copy of the topic string, not one of their own.
 */

import { CONFIG } from './config.js';
import { ui, h } from './dom.js';
import { formatClock, formatBytes, charsHead, previewText, normaliseProperties, keepPayload } from './format.js';
import { RecencyQueue } from './lru.js';
import { jsonDiff, parseJsonPayload } from './diff.js';
import { apiCall, withQuery } from './http.js';
import { exportMessages } from './export.js';

/** The page's values per topic, and the panel's state. */
export const topicHistory = {
  seen: new RecencyQueue(), // node -> values [{ t, topic, payload, … }], oldest first; topics by last update
  entries: 0,
  chars: 0,
  node: null,          // the topic shown
  source: 'page',      // 'server' when `server` holds the shown values
  server: null,        // values from GET /api/history for `node`, oldest first
  next: null,          // the range form's cursor to the older page (null: none)
  loadingOlder: false,
  pagedBack: false,    // older pages were loaded: a refresh keeps them
  olderError: '',      // why the older page did not come (or why there is none)
  note: '',            // why the page's values are shown (the server's answer)
  routeMissing: false, // the server answered 404: no /api/history there
  fetchSeq: 0,         // answers to an older request for the newest values are dropped
  shownSeq: 0,         // counts the topics shown: answers for another one are dropped
  fetchTimer: 0,
  fetchedAt: 0,
  renderTimer: 0,
  open: new Map(),     // entry key -> whether the user opened or closed its diff
};

/** How many of the newest entries show their diff without being opened. */
const OPEN_BY_DEFAULT = 3;

function entryChars(e) { return e.payload.length; }

/** A value as the panel and the exports hold it (payload cut to SEEN_PAYLOAD_CHARS). */
function seenEntry(topic, m) {
  const max = CONFIG.SEEN_PAYLOAD_CHARS - (CONFIG.SEEN_PAYLOAD_CHARS % 4); // whole base64 quads
  const payload = charsHead(m.payload, max);
  return {
    t: m.t,
    topic,
    payload,
    encoding: m.encoding,
    qos: m.qos,
    retain: m.retain,
    size: m.size,
    kept: m.kept,
    truncated: m.truncated || payload.length < m.payload.length,
    dropped: m.dropped,
    properties: m.properties || null,
  };
}

/** Keep message `m` (normalised, see app.js) of `node`'s topic. */
export function historyAdd(node, m) {
  if (m.dropped) return;
  let list = topicHistory.seen.get(node);
  if (!list) list = [];
  const e = seenEntry(node.path, m);
  list.push(e);
  topicHistory.entries++;
  topicHistory.chars += entryChars(e);
  if (list.length > CONFIG.SEEN_PER_TOPIC) {
    const gone = list.shift();
    topicHistory.entries--;
    topicHistory.chars -= entryChars(gone);
  }
  topicHistory.seen.touch(node, list);
  enforceBounds();
  if (node === topicHistory.node) onShownTopicMessage();
}

/** Drop the values of the topics updated least recently until within the bounds. */
function enforceBounds() {
  for (let spare = topicHistory.seen.size; spare > 0 &&
      (topicHistory.entries > CONFIG.SEEN_ENTRIES_MAX || topicHistory.chars > CONFIG.SEEN_CHARS_MAX); spare--) {
    const node = topicHistory.seen.oldest();
    if (node === topicHistory.node) topicHistory.seen.touch(node, topicHistory.seen.get(node));
    else historyForget(node);
  }
}

/** Forget the values of `node`'s topic (it left the tree). */
export function historyForget(node) {
  const list = topicHistory.seen.delete(node);
  if (!list) return;
  topicHistory.entries -= list.length;
  for (const e of list) topicHistory.chars -= entryChars(e);
  if (node === topicHistory.node) scheduleRender();
}

/** The values the panel shows, oldest first. */
export function shownEntries() {
  if (!topicHistory.node) return [];
  if (topicHistory.source === 'server' && topicHistory.server) return topicHistory.server;
  return topicHistory.seen.get(topicHistory.node) || [];
}

/** The History panel follows the selection: show `node`'s values (null: none). */
export function showHistory(node) {
  if (node === topicHistory.node) return;
  topicHistory.node = node;
  topicHistory.shownSeq++;
  topicHistory.loadingOlder = false;
  topicHistory.server = null;
  topicHistory.next = null;
  topicHistory.pagedBack = false;
  topicHistory.olderError = '';
  topicHistory.source = 'page';
  topicHistory.note = '';
  topicHistory.open.clear();
  ui.historyTopic.textContent = node ? (node.path === '' ? '(empty topic level)' : node.path) : '';
  renderNow();
  if (node) fetchServerHistory();
}

function onShownTopicMessage() {
  if (topicHistory.source === 'server') scheduleFetch();
  else scheduleRender();
}

/** Ask the server again, at most once per HISTORY_REFETCH_MS. */
function scheduleFetch() {
  if (topicHistory.fetchTimer) return;
  const wait = Math.max(0, CONFIG.HISTORY_REFETCH_MS - (Date.now() - topicHistory.fetchedAt));
  topicHistory.fetchTimer = setTimeout(() => { topicHistory.fetchTimer = 0; fetchServerHistory(); }, wait);
}

/** A value of GET /api/history as the panel holds it; null when malformed. */
function serverEntry(node, x) {
  if (!x || typeof x !== 'object' || typeof x.payload !== 'string') return null;
  const encoding = x.encoding === 'base64' ? 'base64' : 'utf8';
  const kept = keepPayload(x.payload, encoding, CONFIG.SEEN_PAYLOAD_CHARS);
  return seenEntry(node.path, Object.assign(kept, {
    t: Number.isFinite(x.ts_ms) ? x.ts_ms : 0,
    encoding,
    qos: Number(x.qos) || 0,
    retain: x.retain === true,
    dropped: false,
    properties: normaliseProperties(x.properties),
  }));
}

/** The range form's answer `{messages, next}` (newest first) as entries oldest first, or null. */
function rangePage(node, data) {
  if (!data || typeof data !== 'object' || !Array.isArray(data.messages)) return null;
  const values = [];
  for (const x of data.messages.slice(0, CONFIG.HISTORY_FETCH_LIMIT)) {
    const e = serverEntry(node, x);
    if (e) values.push(e);
  }
  values.reverse();
  return { values, next: typeof data.next === 'string' && data.next ? data.next : null };
}

/**
 * The newest values of the shown topic: the range form (`from=0`, a page
 * with a cursor to older ones); when the server has no database to answer
 * it from (503), the v2 form (what it keeps in memory, no older pages). A v2
 * server answers either with its array, taken as is.
 */
async function fetchServerHistory() {
  const node = topicHistory.node;
  if (!node || topicHistory.routeMissing || !node.count) {
    renderNow();
    return;
  }
  const seq = ++topicHistory.fetchSeq;
  topicHistory.fetchedAt = Date.now();
  const limit = CONFIG.HISTORY_FETCH_LIMIT;
  let res = await apiCall('GET', withQuery('/api/history', { topic: node.path, from: 0, limit }));
  let rangeNote = '';
  if (!res.ok && res.status === 503) {
    rangeNote = 'No older values: ' + res.message + '.';
    if (seq !== topicHistory.fetchSeq || node !== topicHistory.node) return;
    res = await apiCall('GET', withQuery('/api/history', { topic: node.path, limit }));
  }
  if (seq !== topicHistory.fetchSeq || node !== topicHistory.node) return;
  const page = res.ok ? rangePage(node, res.data) : null;
  if (page) takeNewestPage(page);
  else if (res.ok && Array.isArray(res.data)) takeValues(node, res.data);
  else {
    topicHistory.server = null;
    topicHistory.next = null;
    topicHistory.pagedBack = false;
    topicHistory.source = 'page';
    if (res.status === 404) {
      topicHistory.routeMissing = true;
      topicHistory.note = 'the server keeps no history';
    } else {
      topicHistory.note = 'the server\'s history: ' + (res.ok ? 'its answer is not a history' : res.message);
    }
  }
  // Why there is no Older (the server answers only from memory), said with the values.
  if (topicHistory.source === 'server' && !page) topicHistory.note = rangeNote;
  // Why an older page did not come stays said until Older is tried again.
  if (!topicHistory.next) topicHistory.olderError = '';
  renderNow();
}

/** The v2 form's array (oldest first): the values, no older page. */
function takeValues(node, data) {
  const values = [];
  for (const x of data.slice(-CONFIG.HISTORY_FETCH_LIMIT)) {
    const e = serverEntry(node, x);
    if (e) values.push(e);
  }
  topicHistory.server = values.length ? values : null;
  topicHistory.next = null;
  topicHistory.pagedBack = false;
  topicHistory.source = values.length ? 'server' : 'page';
  topicHistory.note = values.length ? '' : 'the server keeps none for this topic';
}

/**
 * The range form's newest page. After paging back, the older values
 * already loaded stay below it, with their cursor.
 */
function takeNewestPage(page) {
  const had = topicHistory.pagedBack ? topicHistory.server || [] : [];
  const older = olderThan(had, page.values);
  const keep = older.length > 0;
  const values = older.concat(page.values).slice(-CONFIG.HISTORY_PAGED_MAX);
  topicHistory.server = values.length ? values : null;
  topicHistory.next = !values.length ? null : keep ? topicHistory.next : page.next;
  topicHistory.pagedBack = keep;
  topicHistory.source = values.length ? 'server' : 'page';
  topicHistory.note = values.length ? '' : 'the server keeps none for this topic';
}

/**
 * The values of `had` (oldest first) older than the newest page `values`:
 * those of earlier milliseconds, and of the page's oldest millisecond those
 * before the run the page holds of it (a page may end inside a millisecond;
 * values carry no id, so the run is found by payload).
 */
function olderThan(had, values) {
  if (!values.length) return [];
  const oldest = values[0].t;
  const same = had.filter((e) => e.t === oldest);
  const inPage = values.filter((e) => e.t === oldest);
  const sameValue = (a, b) => a.payload === b.payload && a.encoding === b.encoding;
  let i = 0;
  while (i < same.length && !(same.length - i <= inPage.length && same.slice(i).every((e, k) => sameValue(e, inPage[k])))) i++;
  return had.filter((e) => e.t < oldest).concat(same.slice(0, i));
}

/**
 * The page older than the shown values (`before=next`), put below them;
 * bounded by HISTORY_PAGED_MAX. A refresh of the newest page meanwhile
 * keeps what is loaded, so only another topic drops the answer.
 */
async function fetchOlder() {
  const node = topicHistory.node;
  const before = topicHistory.next;
  if (!node || !before || topicHistory.source !== 'server' || topicHistory.loadingOlder) return;
  const shown = topicHistory.shownSeq;
  topicHistory.loadingOlder = true;
  topicHistory.olderError = '';
  renderNow();
  const res = await apiCall('GET', withQuery('/api/history', { topic: node.path, before, limit: CONFIG.HISTORY_FETCH_LIMIT }));
  if (shown !== topicHistory.shownSeq) return;
  topicHistory.loadingOlder = false;
  const page = res.ok ? rangePage(node, res.data) : null;
  if (page && topicHistory.source === 'server') {
    const all = page.values.concat(topicHistory.server || []);
    const full = all.length > CONFIG.HISTORY_PAGED_MAX;
    topicHistory.server = all.slice(-CONFIG.HISTORY_PAGED_MAX);
    topicHistory.pagedBack = true;
    topicHistory.next = full ? null : page.next;
    topicHistory.olderError = full ? 'the panel keeps at most ' + CONFIG.HISTORY_PAGED_MAX + ' values' : '';
  } else if (!page) {
    topicHistory.olderError = 'older values: ' + (res.ok ? 'the server\'s answer is not a page' : res.message);
  }
  renderNow();
}

function scheduleRender() {
  if (topicHistory.renderTimer) return;
  topicHistory.renderTimer = setTimeout(renderNow, CONFIG.TREE_RENDER_MS);
}

function renderNow() {
  clearTimeout(topicHistory.renderTimer);
  topicHistory.renderTimer = 0;
  const entries = shownEntries();
  const node = topicHistory.node;
  ui.historyCount.textContent = String(entries.length);
  for (const b of [ui.historyExportJsonl, ui.historyExportCsv]) b.disabled = entries.length === 0;
  ui.historyRefresh.disabled = !node || topicHistory.routeMissing;
  const more = topicHistory.source === 'server' && !!topicHistory.next;
  ui.historyOlder.hidden = !more;
  ui.historyOlder.disabled = !more || topicHistory.loadingOlder;
  ui.historyList.dataset.more = more ? 'true' : 'false';
  ui.historyList.dataset.loading = topicHistory.loadingOlder ? 'true' : 'false';
  ui.historyError.textContent = topicHistory.olderError || '';
  ui.historyError.hidden = !topicHistory.olderError;
  ui.historyList.dataset.source = topicHistory.source;
  ui.historySource.textContent = sourceText(node, entries.length);
  // Remember the user's open / closed choices only for the values still shown.
  const keys = new Set(entries.map(entryKey));
  for (const k of topicHistory.open.keys()) if (!keys.has(k)) topicHistory.open.delete(k);
  const items = [];
  for (let i = entries.length - 1; i >= 0; i--) items.push(entryItem(entries, i, entries.length - 1 - i));
  ui.historyList.replaceChildren(...items);
}

function sourceText(node, n) {
  if (!node) return 'Select a topic to see its last values.';
  const values = n === 1 ? ' value' : ' values';
  const why = topicHistory.note ? ' (' + topicHistory.note + ')' : '';
  if (topicHistory.source === 'server') {
    return n + values + ' kept by the server, newest first.' + (topicHistory.note ? ' ' + topicHistory.note : '');
  }
  if (!n) return 'No values of this topic yet' + why + '.';
  return n + values + ' seen by this page, newest first' + why + '.';
}

function entryKey(e) { return e.t + ':' + e.size + ':' + e.payload.length; }

/** The <li> of entries[i] (`age` 0 for the newest), its diff against entries[i - 1]. */
function entryItem(entries, i, age) {
  const e = entries[i];
  const prev = i > 0 ? entries[i - 1] : null;
  const key = entryKey(e);
  const d = diffOf(prev, e);
  const head = h('summary', { class: 'history-head' },
    h('span', { class: 'history-time mono', text: formatClock(e.t) }),
    h('span', { class: 'badge badge-qos', title: 'QoS ' + e.qos, text: String(e.qos) }),
    e.retain ? h('span', { class: 'badge badge-retain', title: 'retained', text: 'R' }) : null,
    h('span', { class: 'history-size', text: formatBytes(e.size || 0) + (e.truncated ? ', cut' : '') }),
    h('span', { class: 'history-summary', text: d.summary }));
  const body = h('div', { class: 'history-body' });
  const details = h('details', { class: 'history-details' }, head, body);
  const open = topicHistory.open.has(key) ? topicHistory.open.get(key) : age < OPEN_BY_DEFAULT;
  if (open) fillBody(body, d);
  details.open = open;
  details.addEventListener('toggle', () => {
    // The toggle of the initial state (set above) is not a choice of the user's.
    if (details.open === open && !topicHistory.open.has(key)) return;
    topicHistory.open.set(key, details.open);
    if (details.open && !body.firstChild) fillBody(body, d);
  });
  return h('li', {
    class: 'history-entry', 'data-testid': 'history-entry',
    'data-added': d.added, 'data-removed': d.removed, 'data-changed': d.changed,
  }, details);
}

/** What changed from `prev` to `e`: JSON diff lines, or the text when either is not JSON. */
function diffOf(prev, e) {
  const cur = parseJsonPayload(e);
  const before = prev ? parseJsonPayload(prev) : undefined;
  if (cur !== undefined && (prev === null || before !== undefined)) {
    const d = jsonDiff(before, cur, { maxLines: CONFIG.DIFF_MAX_LINES, valueChars: CONFIG.DIFF_VALUE_CHARS });
    const summary = prev === null ? 'first value' : d.added + d.removed + d.changed === 0 ? 'unchanged'
      : [d.added && '+' + d.added + ' added', d.removed && '−' + d.removed + ' removed', d.changed && '~' + d.changed + ' changed'].filter(Boolean).join(' · ');
    return { lines: d.lines, clipped: d.clipped, added: d.added, removed: d.removed, changed: d.changed, summary };
  }
  const same = prev !== null && prev.payload === e.payload && prev.encoding === e.encoding;
  const changed = prev !== null && !same ? 1 : 0;
  const text = previewText(e, CONFIG.LOG_PAYLOAD_CHARS);
  return {
    lines: [{ text: text === '' ? '(empty payload)' : text, mark: changed ? 'changed' : '' }],
    clipped: false, added: 0, removed: 0, changed,
    summary: prev === null ? 'first value' : same ? 'unchanged' : 'changed',
  };
}

function fillBody(body, d) {
  const pre = h('pre', { class: 'diff mono' });
  for (const line of d.lines) {
    pre.append(h('span', { class: 'diff-line' + (line.mark ? ' diff-' + line.mark : ''), 'data-testid': 'diff-line', 'data-diff': line.mark || 'same', text: line.text }));
  }
  body.append(pre);
  if (d.clipped) body.append(h('p', { class: 'history-note', text: 'The diff is longer than ' + CONFIG.DIFF_MAX_LINES + ' lines; the rest is not shown.' }));
}

function exportHistory(format) {
  const entries = shownEntries();
  if (!entries.length || !topicHistory.node) return;
  exportMessages(entries, format, 'history-' + topicHistory.node.path);
}

/** Wire the panel's buttons. */
export function initHistory() {
  ui.historyRefresh.addEventListener('click', () => {
    if (topicHistory.routeMissing) return;
    fetchServerHistory();
  });
  ui.historyOlder.addEventListener('click', () => fetchOlder());
  ui.historyExportJsonl.addEventListener('click', () => exportHistory('jsonl'));
  ui.historyExportCsv.addEventListener('click', () => exportHistory('csv'));
  renderNow();
}
