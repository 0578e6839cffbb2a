/*
 * The message log, newest first: rows are batched per animation frame and
 * bounded in number (`limits.logRows`); it can be filtered, paused,
 * cleared, and exported (the rows shown, or all it keeps) as JSON Lines or
 * CSV. Clicking a row selects its topic in the tree.
 *
 * The log keeps a light copy of each message (LOG_PAYLOAD_CHARS of its
 * payload), never the message itself, so its rows and queues cost little
 * whatever the payloads weigh.
 */

import { CONFIG, limits } from './config.js';
import { ui, h, setFormStatus } from './dom.js';
import { previewText, formatClock, charsHead } from './format.js';
import { selectTopic } from './tree.js';
import { exportMessages } from './export.js';

/** The log's queues and counters. */
export const log = {
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

/** What the log keeps of a message: enough for its row and the filter. */
function logEntry(m) {
  const max = CONFIG.LOG_PAYLOAD_CHARS - (CONFIG.LOG_PAYLOAD_CHARS % 4); // whole base64 quads
  const payload = charsHead(m.payload, max);
  return {
    topic: m.topic,
    payload,
    encoding: m.encoding,
    qos: m.qos,
    retain: m.retain,
    t: m.t,
    size: m.size,
    dropped: m.dropped,
    truncated: m.truncated || payload.length < m.payload.length,
    properties: m.properties || null,
  };
}

export function logEnqueue(m) {
  log.total++;
  const list = log.paused ? log.held : log.queue;
  list.push(logEntry(m));
  // Amortised trim: only the newest logRows can ever be shown.
  if (list.length > limits.logRows * 2) {
    const extra = list.length - limits.logRows;
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
  if (q.length > limits.logRows) {
    const extra = q.length - limits.logRows;
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
    trimRows();
    if (keepPosition) box.scrollTop += box.scrollHeight - before;
  }
  updateLogStats();
  if (q.length) scheduleLogFlush();
}

/** Drop the oldest rows beyond the limit. */
function trimRows() {
  let extra = ui.log.childElementCount - limits.logRows;
  while (extra-- > 0) ui.log.lastElementChild.remove();
}

function buildLogRow(m) {
  const payloadText = previewText(m, CONFIG.LOG_PAYLOAD_CHARS);
  const flags = h('span', { class: 'msg-flags' },
    h('span', { class: 'badge badge-qos', title: 'QoS ' + m.qos, text: String(m.qos) }),
    m.retain ? h('span', { class: 'badge badge-retain', title: 'retained', text: 'R' }) : null);
  const topic = m.topic.length > CONFIG.ATTR_MAX_CHARS ? m.topic.slice(0, CONFIG.ATTR_MAX_CHARS) + '…' : m.topic;
  const row = h('div', { class: 'msg', 'data-testid': 'message', 'data-topic': topic, 'data-qos': m.qos, 'data-retain': m.retain ? 'true' : 'false' },
    h('span', { class: 'msg-time', text: formatClock(m.t) }),
    flags,
    h('span', { class: 'msg-topic mono', title: topic, text: topic }),
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

export function updateLogStats() {
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
  selectTopic(row._m.topic, true);
}

/**
 * The log's entries, oldest first: 'shown' the rows on screen that the
 * filter lets through; 'all' every row and those still waiting (queued,
 * held while paused).
 */
export function logEntries(scope) {
  const out = [];
  const rows = ui.log.children; // newest first
  for (let i = rows.length - 1; i >= 0; i--) {
    if (scope === 'all' || !rows[i].hidden) out.push(rows[i]._m);
  }
  if (scope === 'all') out.push(...log.queue, ...log.held);
  return out;
}

function exportLog(format) {
  const scope = ui.logExportScope.value === 'all' ? 'all' : 'shown';
  const entries = logEntries(scope);
  if (!entries.length) {
    setFormStatus(ui.logExportStatus, 'Nothing to export: the log ' + (scope === 'shown' && log.filter ? 'shows no row for this filter.' : 'is empty.'));
    return;
  }
  const what = scope === 'shown' && log.filter ? 'log-filtered' : 'log';
  const name = exportMessages(entries, format, what);
  setFormStatus(ui.logExportStatus, 'Exported ' + entries.length + (entries.length === 1 ? ' message' : ' messages') + ' as ' + name + '.');
}

/** After the limits changed: keep only the newest `limits.logRows` rows. */
export function applyLogLimits() {
  trimRows();
  updateLogStats();
}

/** Wire the filter (also focused by "/"), Pause, Clear, and clicks on rows. */
export function initLog() {
  let filterTimer = 0;
  ui.logFilter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(applyLogFilter, 120);
  });
  ui.logPause.addEventListener('click', () => setPaused(!log.paused));
  ui.logClear.addEventListener('click', clearLog);
  ui.logExportJsonl.addEventListener('click', () => exportLog('jsonl'));
  ui.logExportCsv.addEventListener('click', () => exportLog('csv'));
  ui.logExport.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    ui.logExport.open = false;
    ui.logExport.querySelector('summary').focus();
  });
  ui.log.addEventListener('click', onLogClick);

  // "/" focuses the log filter (unless typing somewhere).
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    ev.preventDefault();
    ui.logFilter.focus();
  });
}
