/*
 * The detail pane: the selected topic's last message (time, QoS, retain,
 * size, payload as text, pretty JSON or a hex dump) and its counts.
 * The topic tree decides what is selected; this pane only shows it.
 */

import { CONFIG } from './config.js';
import { ui } from './dom.js';
import { formatPayload, formatClock, formatBytes, formatRate, rateValue } from './format.js';
import { fillPublishForm } from './publish.js';

/** What the pane shows: the selected node, and the message whose payload is rendered. */
const shown = { node: null, msg: null };

/** Show `node` afresh (a new selection): its payload is rendered even when unchanged. */
export function showDetail(node, now) {
  shown.msg = null;
  renderDetail(node, now);
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
    return;
  }
  if (shown.msg === m) return; // payload unchanged: keep selection/scroll
  shown.msg = m;
  const payload = formatPayload(m, CONFIG.DETAIL_MAX_CHARS);
  ui.detailTime.textContent = formatClock(m.t);
  ui.detailQos.textContent = String(m.qos);
  ui.detailRetain.textContent = m.retain ? 'yes' : 'no';
  ui.detailSize.textContent = sizeText(m, payload.size);
  ui.detailKind.textContent = payload.kind;
  ui.detailKind.dataset.kind = payload.kind.split(' ')[0].toLowerCase();
  ui.detailPayload.textContent = payload.text;
}

/** "5.0 MiB, showing first 64.0 KiB" when the page keeps only a preview of the payload. */
function sizeText(m, size) {
  if (m.dropped) return formatBytes(size) + ', not kept';
  if (m.truncated) return formatBytes(size) + ', showing first ' + formatBytes(m.kept);
  return formatBytes(size);
}

/** "Use in publish" copies the shown topic's last message into the publish form. */
export function initDetail() {
  ui.detailUse.addEventListener('click', () => {
    const node = shown.node;
    if (!node || !node.last) return;
    fillPublishForm(node.path, node.last);
  });
}
