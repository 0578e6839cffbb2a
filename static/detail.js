/*
 * The detail pane: the selected topic's last message (time, QoS, retain,
 * size, MQTT 5 properties, the payload in the chosen view: auto, text, JSON
 * tree, hex, base64) and its counts; a new selection also goes to the
 * History panel. The topic tree decides what is selected; this pane only
 * shows it.
 */

import { ui } from './dom.js';
import { formatClock, formatBytes, formatRate, rateValue } from './format.js';
import { fillPublishForm } from './publish.js';
import { payloadView, renderProperties, PAYLOAD_VIEWS } from './payload-view.js';
import { showHistory } from './history.js';

/** What the pane shows: the selected node, the message whose payload is rendered, and the view. */
const shown = { node: null, msg: null, view: 'auto' };

/** Show `node` afresh (a new selection): its payload is rendered even when unchanged. */
export function showDetail(node, now) {
  shown.msg = null;
  renderDetail(node, now);
  showHistory(node);
}

function setView(view) {
  if (!PAYLOAD_VIEWS.includes(view)) return;
  shown.view = view;
  for (const b of ui.payloadViews.querySelectorAll('[data-view]')) {
    b.setAttribute('aria-pressed', b.dataset.view === view ? 'true' : 'false');
  }
  shown.msg = null;
  if (shown.node) renderDetail(shown.node, Date.now());
}

/** Refresh the pane for `node` (null: nothing selected). */
export function renderDetail(node, now) {
  shown.node = node;
  ui.detailEmpty.hidden = !!node;
  ui.detailBody.hidden = !node;
  ui.detailChart.disabled = !node || !node.last;
  ui.detailUse.disabled = !node || !node.last || node.last.dropped;
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
    ui.detailPayload.hidden = false;
    ui.detailJson.hidden = true;
    ui.detailJson.textContent = '';
    renderProperties(ui.detailProps, null);
    shown.msg = null;
    return;
  }
  if (shown.msg === m) return; // payload unchanged: keep selection/scroll
  shown.msg = m;
  const payload = payloadView(m, shown.view);
  ui.detailTime.textContent = formatClock(m.t);
  ui.detailQos.textContent = String(m.qos);
  ui.detailRetain.textContent = m.retain ? 'yes' : 'no';
  ui.detailSize.textContent = sizeText(m, m.size);
  ui.detailKind.textContent = payload.kind;
  ui.detailKind.dataset.kind = payload.kind.split(' ')[0].toLowerCase();
  renderProperties(ui.detailProps, m.properties || null);
  ui.detailPayload.hidden = !!payload.tree;
  ui.detailJson.hidden = !payload.tree;
  ui.detailPayload.textContent = payload.tree ? '' : payload.text;
  if (payload.tree) ui.detailJson.replaceChildren(payload.tree);
  else ui.detailJson.textContent = '';
}

/** "5.0 MiB, showing first 64.0 KiB" when the page keeps only a preview of the payload. */
function sizeText(m, size) {
  if (m.dropped) return formatBytes(size) + ', not kept';
  if (m.truncated) return formatBytes(size) + ', showing first ' + formatBytes(m.kept);
  return formatBytes(size);
}

/** "Use in publish" copies the shown topic's last message into the publish form. */
export function initDetail() {
  ui.payloadViews.addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-view]');
    if (b) setView(b.dataset.view);
  });
  ui.detailUse.addEventListener('click', () => {
    const node = shown.node;
    if (!node || !node.last) return;
    fillPublishForm(node.path, node.last);
  });
}
