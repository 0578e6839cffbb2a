/*
 * The Limits form in the header: the bounds of what the page keeps (topics
 * in the tree, payload bytes, log rows, chart topics; LIMIT_DEFS in
 * config.js), saved in this browser's localStorage and applied at once:
 * lowering a limit evicts or trims right away.
 */

import { LIMIT_DEFS, limits } from './config.js';
import { ui, h, showFormError, clearFormError, setFormStatus } from './dom.js';
import { applyTreeLimits } from './tree.js';
import { applyLogLimits } from './log.js';
import { applyChartLimits } from './chart-panel.js';

const STORAGE_KEY = 'mqtt-actor.limits';

/** Saved values that are still valid replace the defaults; anything else is ignored. */
function loadSaved() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}');
  } catch (_) {
    return; // storage disabled or garbled: the defaults stay
  }
  if (!saved || typeof saved !== 'object') return;
  for (const d of LIMIT_DEFS) {
    const v = saved[d.key];
    if (Number.isInteger(v) && v >= d.min && v <= d.max) limits[d.key] = v;
  }
}

/** Only the values that differ from the defaults are saved, so new defaults reach users. */
function save() {
  const changed = {};
  for (const d of LIMIT_DEFS) if (limits[d.key] !== d.def) changed[d.key] = limits[d.key];
  try {
    if (Object.keys(changed).length) localStorage.setItem(STORAGE_KEY, JSON.stringify(changed));
    else localStorage.removeItem(STORAGE_KEY);
    return true;
  } catch (_) {
    return false;
  }
}

function buildFields() {
  for (const d of LIMIT_DEFS) {
    const id = d.id;
    const input = h('input', {
      id, type: 'number', class: 'mono', inputmode: 'numeric', required: true,
      min: d.min, max: d.max, step: 1, 'data-testid': id, 'data-key': d.key,
      'aria-describedby': id + '-help',
    });
    ui.limitsFields.append(h('div', { class: 'field limit-field' },
      h('label', { for: id, text: d.unit ? d.label + ' (' + d.unit + ')' : d.label }),
      input,
      h('p', { class: 'limit-help', id: id + '-help', text: d.help + ' Default ' + d.def + (d.unit ? ' ' + d.unit : '') + '.' })));
  }
}

function fillFields(values) {
  for (const d of LIMIT_DEFS) document.getElementById(d.id).value = String(values[d.key]);
}

/** The form's values, or the first problem found (naming the field and the range). */
function readFields() {
  const values = {};
  for (const d of LIMIT_DEFS) {
    const input = document.getElementById(d.id);
    const text = input.value.trim();
    const v = Number(text);
    if (text === '' || !Number.isInteger(v) || v < d.min || v > d.max) {
      return { error: d.label + ': expected a whole number from ' + d.min + ' to ' + d.max + ', got "' + text + '".', input };
    }
    values[d.key] = v;
  }
  return { values };
}

function apply(values) {
  Object.assign(limits, values);
  applyTreeLimits();
  applyLogLimits();
  applyChartLimits();
}

function onSubmit(ev) {
  ev.preventDefault();
  clearFormError(ui.limitsError);
  const read = readFields();
  if (read.error) {
    showFormError(ui.limitsError, read.error);
    read.input.focus();
    return;
  }
  apply(read.values);
  setFormStatus(ui.limitsStatus, save() ? 'Applied and saved in this browser.' : 'Applied (this browser does not let the page save them).');
}

function onReset() {
  clearFormError(ui.limitsError);
  fillFields(Object.fromEntries(LIMIT_DEFS.map((d) => [d.key, d.def])));
}

/** Load the saved limits (before any message arrives) and wire the form. */
export function initLimits() {
  loadSaved();
  buildFields();
  fillFields(limits);
  ui.limitsForm.addEventListener('submit', onSubmit);
  ui.limitsReset.addEventListener('click', onReset);
  // Opening the form shows the values in force, not half-edited ones.
  ui.limits.addEventListener('toggle', () => {
    if (!ui.limits.open) return;
    clearFormError(ui.limitsError);
    fillFields(limits);
  });
}
