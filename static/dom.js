/*
 * DOM helpers shared by every panel: the page's elements (`ui`), element
 * creation, notices and form feedback.
 *
 * Message data is only ever put into the page with textContent /
 * createElement / setAttribute, never as HTML.
 */

import { CONFIG } from './config.js';

const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');
const byId = (id) => document.getElementById(id);
/** The page's elements by role, filled once by collectElements(). */
export const ui = {};

/** createElement with attributes; children are nodes or strings (as text). */
export function h(tag, attrs, ...children) {
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
export function notice(kind, text, options = {}) {
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

export function showFormError(el, text) {
  el.textContent = text;
  el.hidden = false;
}

export function clearFormError(el) {
  el.textContent = '';
  el.hidden = true;
}

export function setFormStatus(el, text) {
  el.textContent = text;
  clearTimeout(el._timer);
  if (text) el._timer = setTimeout(() => { el.textContent = ''; }, 6000);
}

export function collectElements() {
  Object.assign(ui, {
    brokerStatus: byTestId('broker-status'),
    brokerUrl: byTestId('broker-url'),
    socketStatus: byTestId('socket-status'),
    socketRetry: byTestId('socket-retry'),
    reconnectNow: byId('reconnect-now'),
    notices: byTestId('notices'),

    subForm: byId('subscribe-form'),
    subTopic: byTestId('subscribe-topic'),
    subQos: byTestId('subscribe-qos'),
    subSave: byTestId('subscribe-save'),
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
    pubProps: byId('publish-properties'),
    pubContentType: byId('publish-content-type'),
    pubExpiry: byId('publish-expiry'),
    pubUserProps: byId('publish-user-props'),
    pubUserPropAdd: byId('publish-user-prop-add'),
    templates: byId('publish-templates'),
    templateSelect: byId('publish-template'),
    templateDelete: byId('template-delete'),
    templateName: byId('template-name'),
    templateSave: byId('template-save'),
    templateError: byId('template-error'),
    templateStatus: byId('template-status'),
    templateCount: byId('template-count'),

    log: byTestId('message-log'),
    logFilter: byId('log-filter'),
    logPause: byId('log-pause'),
    logClear: byId('log-clear'),
    logStats: byId('log-stats'),
    logSkipped: byId('log-skipped'),
    logExport: byId('log-export'),
    logExportScope: byId('log-export-scope'),
    logExportJsonl: byId('log-export-jsonl'),
    logExportCsv: byId('log-export-csv'),
    logExportStatus: byId('log-export-status'),

    historyTopic: byId('history-topic'),
    historySource: byId('history-source'),
    historyList: byId('history-list'),
    historyCount: byId('history-count'),
    historyRefresh: byId('history-refresh'),
    historyOlder: byId('history-older'),
    chartRange: byId('chart-range'),
    chartRangeFrom: byId('chart-range-from'),
    chartRangeTo: byId('chart-range-to'),
    chartRangeLoad: byId('chart-range-load'),
    chartRangeStatus: byId('chart-range-status'),
    historyError: byId('history-error'),
    historyExportJsonl: byId('history-export-jsonl'),
    historyExportCsv: byId('history-export-csv'),

    tree: byTestId('topic-tree'),
    treeEvicted: byId('tree-evicted'),
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
    detailJson: byId('detail-json'),
    detailProps: byId('detail-properties'),
    payloadViews: byId('payload-views'),
    detailChart: byId('detail-chart'),
    detailUse: byId('detail-use'),

    chartTopic: byId('chart-topic'),
    chartField: byId('chart-field'),
    chartCanvas: byId('chart-canvas'),
    chartStatus: byId('chart-status'),
    chartClear: byId('chart-clear'),
    chartAddSeries: byId('chart-add-series'),
    chartLegend: byId('chart-legend'),

    retainedForm: byId('retained-form'),
    retainedFilter: byId('retained-filter'),
    retainedError: byId('retained-error'),
    retainedStatus: byId('retained-status'),
    retainedList: byId('retained-list'),
    retainedCount: byId('retained-count'),

    knownTopics: byId('known-topics'),

    limits: byId('limits'),
    limitsForm: byId('limits-form'),
    limitsFields: byId('limits-fields'),
    limitsError: byId('limits-error'),
    limitsStatus: byId('limits-status'),
    limitsReset: byId('limits-reset'),
  });
}
