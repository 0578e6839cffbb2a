/*
 * mqtt-actor dashboard: the entry module (loaded by templates/index.html as
 * <script type="module">). It wires the panels together and starts the
 * connection. The other modules, each importing only from modules below it
 * in this list (no import circles):
 *
 *   limits.js          the Limits form: the bounds a user sets, saved in localStorage
 *   retained.js        the Retained panel: list under a filter, clear with a confirmation
 *   chart-panel.js     the chart's series, topic picker, history and feed
 *   log.js             the message log and its export
 *   tree.js            the topic tree
 *   detail.js          the detail pane of the selected topic
 *   history.js         the History panel: a topic's last values and their diffs
 *   payload-view.js    the payload views (text, JSON tree, hex, base64), MQTT 5 properties
 *   publish.js         the publish form, its MQTT 5 properties and templates
 *   subscriptions.js   the subscribe form and the subscription list, saved ones
 *   connection.js      the WebSocket: back-off, keep-alive, request ids; it
 *                      knows the panels only through the handlers they register
 *   http.js            the HTTP API (/api/history, /api/retained): one call, one result
 *   saved.js           SavedList: bounded lists in localStorage
 *   export.js          JSON Lines and CSV of messages, downloaded from the page
 *   diff.js            the diff of two JSON values
 *   chart.js           LineChart, the canvas drawing
 *   lru.js             RecencyQueue: oldest-first order for evictions
 *   dom.js             the page's elements, element creation, notices
 *   format.js          pure helpers: previews, hex dumps, numbers, rates, properties
 *   config.js          tunables (bounds, timings), the limits and their defaults
 *
 * Message data is only ever put into the page with textContent /
 * createElement / setAttribute, never as HTML; the page has no inline script
 * or style, so it runs under `Content-Security-Policy: default-src 'self'`.
 */

import { CONFIG, limits } from './config.js';
import * as helpers from './format.js';
import { jsonDiff } from './diff.js';
import { toCsv, toJsonLines } from './export.js';
import { ui, collectElements } from './dom.js';
import { conn, connect, keepAlive, setBrokerState, handleFrame, initConnection } from './connection.js';
import { subs, savedSubs, initSubscriptions } from './subscriptions.js';
import { initPublish, templates } from './publish.js';
import { log, logEnqueue, updateLogStats, initLog } from './log.js';
import { tree, treeAdd, tickRates, selectTopic, initTree, onTopicEvicted } from './tree.js';
import { renderDetail, initDetail } from './detail.js';
import { topicHistory, historyAdd, historyForget, initHistory } from './history.js';
import { chart, chartFeed, renderChart, setChartTopic, addSeries, initChart } from './chart-panel.js';
import { retained, initRetained } from './retained.js';
import { initLimits } from './limits.js';

/**
 * A `message` frame, normalised, goes to the tree, the history, the chart
 * and the log. Only the first `limits.payloadKiB` of its payload are kept
 * (`size` is the full size, `kept` what is held, `truncated` says whether
 * they differ); MQTT 5 properties, when the frame has `properties`, are
 * kept bounded (normaliseProperties).
 */
function onMessage(raw) {
  if (typeof raw.topic !== 'string') return;
  const payload = typeof raw.payload === 'string' ? raw.payload : raw.payload == null ? '' : String(raw.payload);
  const encoding = raw.encoding === 'base64' ? 'base64' : 'utf8';
  const m = Object.assign({
    topic: raw.topic,
    encoding,
    qos: Number(raw.qos) || 0,
    retain: raw.retain === true,
    t: Date.now(),
    dropped: false,
    properties: helpers.normaliseProperties(raw.properties),
  }, helpers.keepPayload(payload, encoding, limits.payloadKiB * 1024));
  const node = treeAdd(m);
  historyAdd(node, m);
  chartFeed(node, m);
  logEnqueue(m);
}

function init() {
  collectElements();
  initLimits();
  initConnection();
  initSubscriptions();
  initPublish();
  initLog();
  initTree();
  initDetail();
  initHistory();
  initChart();
  initRetained();
  onTopicEvicted(historyForget);
  handleFrame('message', onMessage);

  setBrokerState(false);
  ui.tree.classList.add('is-empty');
  updateLogStats();
  renderDetail(tree.selected, Date.now());
  renderChart();
  setInterval(keepAlive, CONFIG.PING_INTERVAL_MS);
  setInterval(tickRates, 1000);
  connect();

  // Handy for debugging from the console; not used by the page itself.
  window.mqttActor = {
    helpers: Object.assign({ CONFIG, jsonDiff, toCsv, toJsonLines }, helpers),
    limits,
    state: { conn, subs, savedSubs, templates, log, tree, chart, history: topicHistory, retained },
    selectTopic,
    setChartTopic,
    addSeries,
  };
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
