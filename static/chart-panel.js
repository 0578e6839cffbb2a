/*
 * The chart panel: which topics carry numbers (the topic picker), a short
 * history of their payloads, and the chosen topic and field drawn with
 * LineChart (chart.js).
 *
 * Bounded: the picker lists at most `limits.chartTopics` topics (the ones
 * found numeric most recently, plus the charted one); histories hold at most
 * HISTORY_MAX entries per topic and HISTORY_BUDGET in all, and leave with
 * their topic when the tree evicts it. The charted topic is pinned in the
 * tree so that it is never evicted.
 */

import { CONFIG, limits } from './config.js';
import { ui, h } from './dom.js';
import { extractNumbers, pickNumber, compareNames } from './format.js';
import { tree, pinTopic, onTopicEvicted } from './tree.js';
import { LineChart } from './chart.js';
import { RecencyQueue } from './lru.js';

/** The chart's topic, field and points. */
export const chart = {
  view: null,        // LineChart
  topic: '',
  field: '',
  fields: new Map(), // field path -> true ('' = the payload itself)
  points: [],
  listed: new RecencyQueue(), // topics for the picker, oldest found first
  unlisted: 0,        // numeric topics left out of the picker to stay within its limit
  listTimer: 0,       // a picker render is due (its DOM is rebuilt at most once per CHART_LIST_RENDER_MS)
  listRenderedAt: 0,
  timer: 0,
  historyCost: 0,     // what the topics' histories hold: payload characters + HISTORY_ENTRY_COST each
};

/** List `topic` in the picker (the oldest listed one leaves when it is full). */
function listTopic(topic) {
  if (chart.listed.has(topic)) return;
  // Topics too long for a list item are not listed ("Chart this topic" still charts them).
  if (topic.length > CONFIG.ATTR_MAX_CHARS) return;
  while (chart.listed.size >= limits.chartTopics && dropOldestListed()) chart.unlisted++;
  chart.listed.touch(topic, true);
  scheduleListRender();
}

/** Take the oldest listed topic (not the charted one) out of the picker. */
function dropOldestListed() {
  let topic = chart.listed.oldest();
  if (topic !== undefined && topic === chart.topic) {
    chart.listed.touch(topic, true); // the charted topic stays listed
    topic = chart.listed.oldest();
  }
  if (topic === undefined || topic === chart.topic) return false;
  chart.listed.delete(topic);
  return true;
}

function unlistTopic(topic) {
  if (chart.listed.delete(topic) !== undefined) scheduleListRender();
}

/**
 * The picker's DOM follows the list at most once per CHART_LIST_RENDER_MS,
 * never per message: a <select> recomputes its items on every change.
 */
function scheduleListRender() {
  if (chart.listTimer) return;
  const wait = Math.max(0, CONFIG.CHART_LIST_RENDER_MS - (Date.now() - chart.listRenderedAt));
  chart.listTimer = setTimeout(renderList, wait);
}

function renderList() {
  clearTimeout(chart.listTimer);
  chart.listTimer = 0;
  chart.listRenderedAt = Date.now();
  const sel = ui.chartTopic;
  // Leave an open picker alone; it is rendered again when it loses focus.
  if (document.activeElement === sel) return;
  const topics = Array.from(chart.listed.keys());
  if (chart.topic && !chart.listed.has(chart.topic)) topics.push(chart.topic);
  topics.sort(compareNames);
  const placeholder = h('option', {
    value: '',
    text: chart.unlisted ? '— pick a numeric topic (the ' + chart.listed.size + ' found most recently) —' : '— pick a numeric topic —',
  });
  sel.replaceChildren(placeholder, ...topics.map((t) => h('option', { value: t, text: t })));
  sel.value = chart.topic;
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
    for (const e of node.history || []) {
      const v = pickNumber(extractNumbers(e.p), chart.field);
      if (v !== undefined) chart.points.push({ t: e.t, v });
    }
  }
  scheduleChartRender(true);
}

export function setChartTopic(topic) {
  if (chart.topic) pinTopic(chart.topic, false);
  chart.topic = topic;
  if (topic) pinTopic(topic, true);
  chart.fields = new Map();
  chart.field = '';
  renderList();
  const node = topic ? tree.byPath.get(topic) : null;
  if (node) {
    for (const e of node.history || []) {
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

/** Keep recent short payloads of numeric topics so the chart can start with some history. */
function remember(node, m) {
  if (m.payload.length > CONFIG.HISTORY_PAYLOAD_MAX) return;
  if (chart.historyCost > CONFIG.HISTORY_BUDGET && node.path !== chart.topic) return;
  if (!node.history) node.history = [];
  node.history.push({ t: m.t, p: m.payload });
  chart.historyCost += entryCost(m.payload);
  if (node.history.length > CONFIG.HISTORY_MAX * 1.5) {
    const gone = node.history.splice(0, node.history.length - CONFIG.HISTORY_MAX);
    for (const e of gone) chart.historyCost -= entryCost(e.p);
  }
}

function entryCost(p) { return p.length + CONFIG.HISTORY_ENTRY_COST; }

function forgetHistory(node) {
  if (!node.history) return;
  for (const e of node.history) chart.historyCost -= entryCost(e.p);
  node.history = null;
}

/** The tree evicted `node`'s topic: its history and its place in the picker go too. */
function onEvicted(node) {
  forgetHistory(node);
  node.numeric = false;
  unlistTopic(node.path);
}

/** Detect topics with numeric payloads for the chart's topic list (at most once a second per topic). */
function probeNumeric(node, m) {
  if (node.numeric || m.payload.length > CONFIG.NUMERIC_PROBE_MAX) return;
  if (m.t - node.numProbeAt < 1000) return;
  node.numProbeAt = m.t;
  if (extractNumbers(m.payload)) {
    node.numeric = true;
    listTopic(node.path);
  }
}

/**
 * A message arrived on `node`'s topic: note whether the topic is numeric,
 * keep its history, and extend the chart when it is the charted topic.
 */
export function chartFeed(node, m) {
  if (m.encoding !== 'base64') {
    probeNumeric(node, m);
    if (node.numeric) remember(node, m);
  }
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

export function renderChart() {
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
  if (node) forgetHistory(node);
  scheduleChartRender(true);
}

/** Draw on the canvas, and wire the topic and field pickers, Clear, and "Chart this topic". */
export function initChart() {
  ui.detailChart.addEventListener('click', () => {
    if (!tree.selected) return;
    setChartTopic(tree.selected.path);
    ui.chartCanvas.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  });
  ui.chartTopic.addEventListener('change', () => setChartTopic(ui.chartTopic.value));
  // Up to date when the user opens it (mousedown comes before the list opens).
  ui.chartTopic.addEventListener('mousedown', renderList);
  ui.chartTopic.addEventListener('blur', scheduleListRender);
  ui.chartField.addEventListener('change', () => setChartField(ui.chartField.value));
  ui.chartClear.addEventListener('click', clearChart);
  chart.view = new LineChart(ui.chartCanvas, { emptyText: 'Pick a topic with numeric values' });
  onTopicEvicted(onEvicted);
}

/** After the limits changed: shorten the picker to its new limit. */
export function applyChartLimits() {
  while (chart.listed.size > limits.chartTopics && dropOldestListed()) chart.unlisted++;
  renderList();
}
