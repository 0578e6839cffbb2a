/*
 * The chart panel: which topics carry numbers (the topic picker), a short
 * history of their payloads, and up to CHART_SERIES_MAX series (a topic and
 * a field each, each its own colour) drawn with LineChart (chart.js). The
 * pickers edit the active series; the legend lists them all, makes one
 * active and removes it; "Add series" starts another. The Range picker
 * loads the series' values of the last hour, the last day or a custom
 * range from the server's history database (chart-range.js); a range
 * without an end goes on live, joined where the page's live values leave
 * the history off.
 *
 * Bounded: the picker lists at most `limits.chartTopics` topics (the ones
 * found numeric most recently, plus the charted ones); histories hold at
 * most HISTORY_MAX entries per topic and HISTORY_BUDGET in all, and leave
 * with their topic when the tree evicts it; each series holds at most
 * CHART_MAX_POINTS points, and a loaded range at most CHART_MAX_POINTS
 * payloads of at most HISTORY_PAYLOAD_MAX characters per series. Charted topics are pinned in the tree so that
 * they are never evicted.
 */

import { CONFIG, limits } from './config.js';
import { ui, h } from './dom.js';
import { extractNumbers, pickNumber, compareNames } from './format.js';
import { tree, pinTopic, onTopicEvicted } from './tree.js';
import { LineChart, SERIES_COLORS } from './chart.js';
import { RecencyQueue } from './lru.js';
import { rangeBounds, loadRange, joinAt, skipAhead } from './chart-range.js';

/** The chart's series, the topic picker and the topics' numeric histories. */
export const chart = {
  view: null,        // LineChart
  series: [],        // [{ topic, field, fields: Map (field path -> true, '' = the payload), points, color, hist, closed, ahead }]
  active: 0,         // the series the topic and field pickers edit
  pinned: new Set(), // topics pinned in the tree for the series
  listed: new RecencyQueue(), // topics for the picker, oldest found first
  unlisted: 0,        // numeric topics left out of the picker to stay within its limit
  listTimer: 0,       // a picker render is due (its DOM is rebuilt at most once per CHART_LIST_RENDER_MS)
  listRenderedAt: 0,
  timer: 0,
  historyCost: 0,     // what the topics' histories hold: payload characters + HISTORY_ENTRY_COST each
  range: 'live',      // 'live' (the page's values), or a range loaded from the server: 'hour', 'day', 'custom'
  rangeSeq: 0,        // loads of an older choice are dropped
};

/** The range status hook: `state` idle / loading / done / capped / error, `points` from history. */
function setRangeStatus(state, points, text) {
  ui.chartRangeStatus.dataset.state = state;
  ui.chartRangeStatus.dataset.points = String(points);
  ui.chartRangeStatus.textContent = text;
}

/** Points of series `s`'s loaded history that carry a number (its field). */
function historyPoints(s) {
  let n = 0;
  for (const e of s.hist || []) if (pickNumber(extractNumbers(e.p), s.field) !== undefined) n++;
  return n;
}

/** Back to the page's own values (the range is `live`, or its load failed). */
function dropRanges() {
  for (const s of chart.series) { s.hist = null; s.closed = false; rebuildPoints(s); }
}

/**
 * Load the chosen range of every series from the server; an open range
 * (no end) goes on with the live values the history does not hold yet
 * (joinAt, chart-range.js). Without the server's history (a server that
 * records nothing answers 503), the chart stays on live values and the
 * status says why.
 */
async function loadChartRange() {
  const seq = ++chart.rangeSeq;
  chart.range = ui.chartRange.value;
  const custom = chart.range === 'custom';
  ui.chartRangeFrom.hidden = !custom;
  ui.chartRangeTo.hidden = !custom;
  ui.chartRangeLoad.hidden = !custom;
  if (chart.range === 'live') {
    dropRanges();
    setRangeStatus('idle', 0, '');
    scheduleChartRender(true);
    return;
  }
  const b = rangeBounds(chart.range, ui.chartRangeFrom.value, ui.chartRangeTo.value);
  if (!b) {
    setRangeStatus(custom ? 'idle' : 'error', 0, custom ? 'Pick the start (and optionally the end) of the range.' : 'Unknown range.');
    return;
  }
  const wanted = chart.series.filter((s) => s.topic);
  if (!wanted.length) { setRangeStatus('idle', 0, 'Pick a topic to load its range.'); return; }
  setRangeStatus('loading', 0, 'Loading the range from the server…');
  const loaded = [];
  let capped = false;
  for (const s of wanted) {
    const r = await loadRange(s.topic, b.from, b.to, () => seq !== chart.rangeSeq);
    if (seq !== chart.rangeSeq) return;
    if (!r.ok) {
      dropRanges();
      scheduleChartRender(true);
      // 503: the server records no history (or cannot read it now).
      const what = r.status === 503 ? 'No range from the server: ' : 'The range of ' + s.topic + ' could not be loaded: ';
      setRangeStatus('error', 0, what + r.message + '. The chart shows live values.');
      return;
    }
    loaded.push({ s, values: r.values });
    capped = capped || r.capped;
  }
  let total = 0;
  for (const { s, values } of loaded) {
    s.hist = values;
    s.closed = b.to !== null;
    for (const e of values) {
      const ex = extractNumbers(e.p);
      if (ex) noteChartFields(s, ex);
    }
    if (!s.fields.has(s.field) && s.fields.size) s.field = s.fields.has('') ? '' : s.fields.keys().next().value;
    rebuildPoints(s);
    total += historyPoints(s);
  }
  rebuildFieldSelect();
  renderLegend();
  scheduleChartRender(true);
  setRangeStatus(capped ? 'capped' : 'done', total, total + ' points from the server' +
    (capped ? ' (cut at ' + CONFIG.CHART_MAX_POINTS + ' per series: the start of the range is not shown)' : '') +
    (b.to === null ? ', then live.' : '.'));
}

function activeSeries() { return chart.series[chart.active]; }

/** Whether a series charts `topic`. */
function charted(topic) {
  return chart.series.some((s) => s.topic && s.topic === topic);
}

/** The first colour no series uses (colours are --series-0 … in style.css). */
function freeColor() {
  for (let c = 0; c < SERIES_COLORS; c++) if (!chart.series.some((s) => s.color === c)) return c;
  return chart.series.length % SERIES_COLORS;
}

function newSeries() {
  // hist: values [{ t, p }] of a range loaded from the server (null: live only);
  // closed: the range has an end, so no live value follows it;
  // ahead: values of `hist` not yet got live, skipped when they come (chart-range.js).
  return { topic: '', field: '', fields: new Map(), points: [], color: freeColor(), hist: null, closed: false, ahead: [] };
}

/** Pin the series' topics in the tree (so they are never evicted), and only those. */
function updatePins() {
  const want = new Set(chart.series.map((s) => s.topic).filter(Boolean));
  for (const t of chart.pinned) if (!want.has(t)) pinTopic(t, false);
  for (const t of want) if (!chart.pinned.has(t)) pinTopic(t, true);
  chart.pinned = want;
}

/** List `topic` in the picker (the oldest listed one leaves when it is full). */
function listTopic(topic) {
  if (chart.listed.has(topic)) return;
  // Topics too long for a list item are not listed ("Chart this topic" still charts them).
  if (topic.length > CONFIG.ATTR_MAX_CHARS) return;
  while (chart.listed.size >= limits.chartTopics && dropOldestListed()) chart.unlisted++;
  chart.listed.touch(topic, true);
  scheduleListRender();
}

/** Take the oldest listed topic (not a charted one) out of the picker. */
function dropOldestListed() {
  for (let spare = chart.listed.size; spare > 0; spare--) {
    const topic = chart.listed.oldest();
    if (!charted(topic)) {
      chart.listed.delete(topic);
      return true;
    }
    chart.listed.touch(topic, true); // charted topics stay listed
  }
  return false;
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
  for (const s of chart.series) if (s.topic && !chart.listed.has(s.topic) && !topics.includes(s.topic)) topics.push(s.topic);
  topics.sort(compareNames);
  const placeholder = h('option', {
    value: '',
    text: chart.unlisted ? '— pick a numeric topic (the ' + chart.listed.size + ' found most recently) —' : '— pick a numeric topic —',
  });
  sel.replaceChildren(placeholder, ...topics.map((t) => h('option', { value: t, text: t })));
  sel.value = activeSeries().topic;
}

function fieldLabel(f) { return f === '' ? '(value)' : f; }

function noteChartFields(s, ex) {
  let added = false;
  if (ex.scalar !== undefined && !s.fields.has('')) { s.fields.set('', true); added = true; }
  for (const [k] of ex.fields) if (!s.fields.has(k)) { s.fields.set(k, true); added = true; }
  return added;
}

function rebuildFieldSelect() {
  const s = activeSeries();
  const sel = ui.chartField;
  sel.textContent = '';
  for (const f of s.fields.keys()) sel.append(h('option', { value: f, text: fieldLabel(f) }));
  sel.disabled = s.fields.size === 0;
  if (s.fields.has(s.field)) sel.value = s.field;
}

/**
 * Points of series `s`: its loaded range, if any, then the values this page
 * saw of its topic that the range does not hold (none after a closed range).
 * Times never go back (live values carry the page's clock, history the
 * server's), so the chart's points stay in order.
 */
function rebuildPoints(s) {
  s.points = [];
  const node = s.topic ? tree.byPath.get(s.topic) : null;
  const live = (node && node.history) || [];
  const join = s.hist && !s.closed ? joinAt(s.hist, live) : { start: s.hist ? live.length : 0, ahead: [] };
  s.ahead = join.ahead;
  const start = join.start;
  for (const e of s.hist || []) pushPoint(s, e.t, pickNumber(extractNumbers(e.p), s.field));
  for (let i = start; i < live.length; i++) pushPoint(s, live[i].t, pickNumber(extractNumbers(live[i].p), s.field));
  if (s.points.length > CONFIG.CHART_MAX_POINTS) s.points.splice(0, s.points.length - CONFIG.CHART_MAX_POINTS);
}

/** Append value `v` (skipped when undefined) at time `t`, or at the last point's time if later. */
function pushPoint(s, t, v) {
  if (v === undefined) return;
  const last = s.points.length ? s.points[s.points.length - 1].t : -Infinity;
  s.points.push({ t: Math.max(t, last), v });
}

function seriesLabel(s) {
  if (!s.topic) return '(pick a topic)';
  return s.field ? s.topic + ' · ' + s.field : s.topic;
}

/** The legend: one item per series, its colour, a button to edit it and one to remove it. */
function renderLegend() {
  const items = chart.series.map((s, i) => {
    const label = seriesLabel(s);
    const pick = h('button', {
      type: 'button', class: 'legend-pick mono', 'data-testid': 'chart-series-pick',
      'aria-pressed': i === chart.active ? 'true' : 'false',
      title: 'Edit this series with the pickers above', text: label,
    });
    pick.addEventListener('click', () => activateSeries(i));
    const remove = h('button', {
      type: 'button', class: 'icon-btn', 'data-testid': 'chart-series-remove',
      'aria-label': 'Remove series ' + label, title: 'Remove this series', text: '×',
    });
    remove.addEventListener('click', () => removeSeries(i));
    return h('li', {
      class: 'legend-item' + (i === chart.active ? ' is-active' : ''), 'data-testid': 'chart-series',
      'data-topic': s.topic.length > CONFIG.ATTR_MAX_CHARS ? s.topic.slice(0, CONFIG.ATTR_MAX_CHARS) + '…' : s.topic,
      'data-color': s.color,
    }, h('span', { class: 'swatch series-c' + s.color, 'aria-hidden': 'true' }), pick, remove);
  });
  ui.chartLegend.replaceChildren(...items);
  // A lone series without a topic is what the pickers already say.
  ui.chartLegend.hidden = chart.series.length === 1 && !chart.series[0].topic;
  ui.chartAddSeries.disabled = chart.series.length >= CONFIG.CHART_SERIES_MAX || !activeSeries().topic;
}

/** Chart `topic` in the series being edited (a new topic starts with its history). */
export function setChartTopic(topic) {
  const s = activeSeries();
  s.topic = topic;
  s.fields = new Map();
  s.field = '';
  updatePins();
  renderList();
  const node = topic ? tree.byPath.get(topic) : null;
  if (node) {
    for (const e of node.history || []) {
      const ex = extractNumbers(e.p);
      if (ex) noteChartFields(s, ex);
    }
  }
  s.field = s.fields.has('') ? '' : (s.fields.keys().next().value || '');
  rebuildFieldSelect();
  s.hist = null;
  s.closed = false;
  rebuildPoints(s);
  renderLegend();
  scheduleChartRender(true);
  if (chart.range !== 'live' && topic) loadChartRange();
}

function setChartField(field) {
  const s = activeSeries();
  s.field = field;
  rebuildPoints(s);
  renderLegend();
  scheduleChartRender(true);
}

/** Add a series (its topic picked next) and edit it. */
export function addSeries() {
  if (chart.series.length >= CONFIG.CHART_SERIES_MAX || !activeSeries().topic) return;
  chart.series.push(newSeries());
  activateSeries(chart.series.length - 1);
  ui.chartTopic.focus();
}

function activateSeries(i) {
  chart.active = i;
  renderList();
  rebuildFieldSelect();
  renderLegend();
}

/** Remove series `i`; the last one left is emptied rather than removed. */
function removeSeries(i) {
  if (chart.series.length === 1) {
    chart.active = 0;
    setChartTopic('');
    return;
  }
  chart.series.splice(i, 1);
  if (chart.active >= chart.series.length || chart.active > i) chart.active = Math.max(0, chart.active - 1);
  updatePins();
  activateSeries(chart.active);
  scheduleChartRender(true);
  const picks = ui.chartLegend.querySelectorAll('[data-testid="chart-series-pick"]');
  if (picks[chart.active]) picks[chart.active].focus();
}

/** Keep recent short payloads of numeric topics so the chart can start with some history. */
function remember(node, m) {
  if (m.payload.length > CONFIG.HISTORY_PAYLOAD_MAX) return;
  if (chart.historyCost > CONFIG.HISTORY_BUDGET && !charted(node.path)) return;
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
 * keep its history, and extend the series that chart it.
 */
export function chartFeed(node, m) {
  if (m.encoding === 'base64') return;
  probeNumeric(node, m);
  if (node.numeric) remember(node, m);
  let ex;
  for (const s of chart.series) {
    if (!s.topic || s.topic !== m.topic) continue;
    // Charted from the history already (only short payloads are in it, as in node.history).
    if (m.payload.length <= CONFIG.HISTORY_PAYLOAD_MAX && skipAhead(s.ahead, m.payload)) continue;
    if (ex === undefined) ex = extractNumbers(m.payload);
    if (!ex) return;
    if (noteChartFields(s, ex)) {
      if (!s.fields.has(s.field)) s.field = s.fields.has('') ? '' : s.fields.keys().next().value;
      if (s === activeSeries()) rebuildFieldSelect();
    }
    const v = pickNumber(ex, s.field);
    if (v === undefined) continue;
    if (s.closed) continue; // a range with an end stays as loaded
    pushPoint(s, m.t, v);
    if (s.points.length > CONFIG.CHART_MAX_POINTS * 1.25) s.points.splice(0, s.points.length - CONFIG.CHART_MAX_POINTS);
    scheduleChartRender(false);
  }
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
  const drawn = chart.series.filter((s) => s.points.length);
  const empty = chart.series.some((s) => s.topic)
    ? 'No numeric values yet for ' + chart.series.filter((s) => s.topic).map((s) => s.topic).join(', ')
    : 'Pick a topic with numeric values';
  if (chart.view) {
    chart.view.setSeries(drawn.map((s) => ({ label: seriesLabel(s), color: s.color, points: s.points })), { emptyText: empty });
  }
  if (!drawn.length) {
    ui.chartStatus.textContent = chart.series.some((s) => s.topic) ? 'Waiting for numeric values…' : '';
    return;
  }
  if (chart.series.length === 1) {
    const pts = drawn[0].points;
    let min = Infinity;
    let max = -Infinity;
    for (const p of pts) { if (p.v < min) min = p.v; if (p.v > max) max = p.v; }
    const last = pts[pts.length - 1].v;
    ui.chartStatus.textContent = pts.length + ' points · last ' + last + ' · min ' + min + ' · max ' + max;
    return;
  }
  let points = 0;
  for (const s of drawn) points += s.points.length;
  ui.chartStatus.textContent = drawn.length + ' series · ' + points + ' points · last ' +
    drawn.map((s) => s.points[s.points.length - 1].v).join(' / ');
}

function clearChart() {
  for (const s of chart.series) {
    s.points = [];
    const node = s.topic ? tree.byPath.get(s.topic) : null;
    if (node) forgetHistory(node);
  }
  // A loaded range goes too: the chart starts again from live values.
  ui.chartRange.value = 'live';
  loadChartRange();
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
  ui.chartAddSeries.addEventListener('click', addSeries);
  ui.chartRange.addEventListener('change', loadChartRange);
  ui.chartRangeLoad.addEventListener('click', loadChartRange);
  setRangeStatus('idle', 0, '');
  chart.view = new LineChart(ui.chartCanvas, { emptyText: 'Pick a topic with numeric values' });
  chart.series = [newSeries()];
  chart.active = 0;
  renderLegend();
  onTopicEvicted(onEvicted);
}

/** After the limits changed: shorten the picker to its new limit. */
export function applyChartLimits() {
  while (chart.listed.size > limits.chartTopics && dropOldestListed()) chart.unlisted++;
  renderList();
}
