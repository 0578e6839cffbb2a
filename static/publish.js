/*
 * The publish form: topic, payload (with a hint when it looks like JSON but
 * does not parse, and a Format button), QoS, encoding and retain; MQTT 5
 * properties (content type, message expiry, user properties); templates
 * of the whole form saved in localStorage (at most TEMPLATES_MAX).
 *
 * The properties go in the publish request as an optional `properties`
 * object: `{ content_type, message_expiry_interval, user_properties:
 * [[key, value], …] }`, only the ones set (a server that does not know the
 * field ignores it).
 */

import { CONFIG } from './config.js';
import { ui, h, showFormError, clearFormError, setFormStatus } from './dom.js';
import { jsonHint, formatClock, formatBytes } from './format.js';
import { send, takePending, handleFrame, handleRequests } from './connection.js';
import { SavedList, cleanString, cleanQos } from './saved.js';

const EXPIRY_MAX = 4294967295; // a four-byte integer in MQTT 5
const TEMPLATE_NAME_MAX = 100;

/** The form's MQTT 5 properties for the request, or `{ error, input }`; `props` is null when none is set. */
function readProperties() {
  const props = {};
  const ct = ui.pubContentType.value.trim();
  if (ct) props.content_type = ct;
  const exp = ui.pubExpiry.value.trim();
  if (exp !== '') {
    const n = Number(exp);
    if (!Number.isInteger(n) || n < 0 || n > EXPIRY_MAX) {
      return { error: 'Message expiry: expected whole seconds from 0 to ' + EXPIRY_MAX + ', got "' + exp + '".', input: ui.pubExpiry };
    }
    props.message_expiry_interval = n;
  }
  const users = [];
  for (const row of ui.pubUserProps.children) {
    const k = row.keyInput.value;
    const v = row.valueInput.value;
    if (k === '' && v === '') continue;
    if (k === '') return { error: 'A user property needs a name (its value is "' + v + '").', input: row.keyInput };
    users.push([k, v]);
  }
  if (users.length) props.user_properties = users;
  return { props: Object.keys(props).length ? props : null };
}

/** Add a name/value row to the user properties (at most PROPS_MAX_USER rows). */
function addUserProperty(key = '', value = '') {
  if (ui.pubUserProps.childElementCount >= CONFIG.PROPS_MAX_USER) return null;
  const n = ui.pubUserProps.childElementCount + 1;
  const keyInput = h('input', { type: 'text', class: 'mono', 'data-testid': 'publish-user-property-key', 'aria-label': 'User property ' + n + ' name', placeholder: 'name', spellcheck: 'false' });
  const valueInput = h('input', { type: 'text', class: 'mono', 'data-testid': 'publish-user-property-value', 'aria-label': 'User property ' + n + ' value', placeholder: 'value', spellcheck: 'false' });
  const remove = h('button', { type: 'button', class: 'icon-btn', 'data-testid': 'publish-user-property-remove', 'aria-label': 'Remove user property ' + n, title: 'Remove', text: '×' });
  keyInput.value = key;
  valueInput.value = value;
  const row = h('li', { class: 'user-prop' }, keyInput, valueInput, remove);
  Object.assign(row, { keyInput, valueInput });
  remove.addEventListener('click', () => {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    ui.pubUserPropAdd.disabled = false;
    (next ? next.keyInput : ui.pubUserPropAdd).focus();
  });
  ui.pubUserProps.append(row);
  ui.pubUserPropAdd.disabled = ui.pubUserProps.childElementCount >= CONFIG.PROPS_MAX_USER;
  return row;
}

/** Put `props` (as readProperties makes them, or as a message carries them) in the form. */
function fillProperties(props) {
  ui.pubContentType.value = props && typeof props.content_type === 'string' ? props.content_type : '';
  ui.pubExpiry.value = props && Number.isInteger(props.message_expiry_interval) ? String(props.message_expiry_interval) : '';
  ui.pubUserProps.textContent = '';
  ui.pubUserPropAdd.disabled = false;
  for (const [k, v] of (props && props.user_properties) || []) addUserProperty(k, v);
  if (props) ui.pubProps.open = true;
}

let hintTimer = 0;

function updatePublishHint() {
  clearTimeout(hintTimer);
  hintTimer = 0;
  const hint = ui.pubEncoding.value === 'utf8' ? jsonHint(ui.pubPayload.value) : null;
  ui.pubHint.textContent = hint || '';
  ui.pubHint.hidden = !hint;
}

function schedulePublishHint() {
  clearTimeout(hintTimer);
  hintTimer = setTimeout(updatePublishHint, 150);
}

function formatPublishPayload() {
  const t = ui.pubPayload.value.trim();
  try {
    ui.pubPayload.value = JSON.stringify(JSON.parse(t), null, 2);
    updatePublishHint();
  } catch (err) {
    ui.pubHint.textContent = 'cannot format: ' + err.message;
    ui.pubHint.hidden = false;
  }
}

function onPublishSubmit(ev) {
  ev.preventDefault();
  updatePublishHint(); // a hint never blocks sending
  clearFormError(ui.pubError);
  const topic = ui.pubTopic.value.trim();
  if (!topic) {
    showFormError(ui.pubError, 'Enter a topic to publish to.');
    ui.pubTopic.focus();
    return;
  }
  const read = readProperties();
  if (read.error) {
    ui.pubProps.open = true;
    showFormError(ui.pubError, read.error);
    read.input.focus();
    return;
  }
  const msg = {
    type: 'publish',
    topic,
    payload: ui.pubPayload.value,
    encoding: ui.pubEncoding.value,
    qos: Number(ui.pubQos.value) || 0,
    retain: ui.pubRetain.checked,
  };
  if (read.props) msg.properties = read.props;
  const id = send(msg, { kind: 'publish', topic });
  if (id === null) {
    showFormError(ui.pubError, 'Socket is not open: nothing was sent.');
    return;
  }
  setFormStatus(ui.pubStatus, 'Publishing to "' + topic + '"…');
}

function onPublished(msg) {
  const ctx = takePending(msg.id);
  const topic = ctx ? ctx.topic : msg.topic;
  clearFormError(ui.pubError);
  setFormStatus(ui.pubStatus, 'Published to "' + topic + '" at ' + formatClock(Date.now()) + '.');
}

/** Put a message in the form, ready to send again or edit ("Use in publish"). */
export function fillPublishForm(topic, m) {
  ui.pubTopic.value = topic;
  ui.pubEncoding.value = m.encoding === 'base64' ? 'base64' : 'utf8';
  ui.pubPayload.value = m.payload;
  ui.pubQos.value = String([0, 1, 2].includes(m.qos) ? m.qos : 0);
  if (m.properties) fillProperties({ content_type: m.properties.content_type, user_properties: m.properties.user_properties });
  updatePublishHint();
  if (m.truncated) {
    ui.pubHint.textContent = 'The page kept only the first ' + formatBytes(m.kept) + ' of this ' +
      formatBytes(m.size) + ' payload: publishing sends those alone.';
    ui.pubHint.hidden = false;
  }
  ui.pubPayload.focus();
}

/** The saved templates: [{ name, topic, payload, encoding, qos, retain, properties }]. */
export const templates = new SavedList('mqtt-actor.templates', {
  max: CONFIG.TEMPLATES_MAX,
  clean: cleanTemplate,
  id: (x) => x.name,
});

function cleanTemplate(x) {
  if (!x || typeof x !== 'object') return null;
  const name = cleanString(x.name, TEMPLATE_NAME_MAX);
  const topic = cleanString(x.topic, CONFIG.ATTR_MAX_CHARS, true);
  const payload = cleanString(x.payload, CONFIG.TEMPLATE_PAYLOAD_CHARS, true);
  if (name === null || topic === null || payload === null) return null;
  const t = { name, topic, payload, encoding: x.encoding === 'base64' ? 'base64' : 'utf8', qos: cleanQos(x.qos), retain: x.retain === true, properties: null };
  const p = x.properties;
  if (p && typeof p === 'object') {
    const props = {};
    const ct = cleanString(p.content_type, CONFIG.PROPS_MAX_CHARS);
    if (ct !== null) props.content_type = ct;
    if (Number.isInteger(p.message_expiry_interval) && p.message_expiry_interval >= 0 && p.message_expiry_interval <= EXPIRY_MAX) {
      props.message_expiry_interval = p.message_expiry_interval;
    }
    const users = Array.isArray(p.user_properties) ? p.user_properties
      .filter((kv) => Array.isArray(kv) && cleanString(kv[0], CONFIG.PROPS_MAX_CHARS) !== null && cleanString(kv[1], CONFIG.PROPS_MAX_CHARS, true) !== null)
      .slice(0, CONFIG.PROPS_MAX_USER)
      .map((kv) => [kv[0], kv[1]]) : [];
    if (users.length) props.user_properties = users;
    if (Object.keys(props).length) t.properties = props;
  }
  return t;
}

function renderTemplates(selected = '') {
  const options = templates.items.map((t) => h('option', { value: t.name, text: t.name + (t.topic ? ' → ' + t.topic : '') }));
  ui.templateSelect.replaceChildren(h('option', { value: '', text: templates.items.length ? '— saved templates —' : '— no templates yet —' }), ...options);
  ui.templateSelect.value = selected;
  ui.templateDelete.disabled = !selected;
  ui.templateCount.textContent = String(templates.items.length);
}

function saveTemplate() {
  clearFormError(ui.templateError);
  const name = ui.templateName.value.trim();
  if (!name) {
    showFormError(ui.templateError, 'Name the template first.');
    ui.templateName.focus();
    return;
  }
  const read = readProperties();
  if (read.error) {
    showFormError(ui.templateError, read.error);
    return;
  }
  const t = cleanTemplate({
    name,
    topic: ui.pubTopic.value.trim(),
    payload: ui.pubPayload.value,
    encoding: ui.pubEncoding.value,
    qos: Number(ui.pubQos.value) || 0,
    retain: ui.pubRetain.checked,
    properties: read.props,
  });
  if (!t) {
    showFormError(ui.templateError, 'Too long to save: a template keeps a topic of at most ' + CONFIG.ATTR_MAX_CHARS +
      ' characters and a payload of at most ' + CONFIG.TEMPLATE_PAYLOAD_CHARS + '.');
    return;
  }
  const replacing = !!templates.find(name);
  if (!templates.put(t)) {
    showFormError(ui.templateError, !replacing && templates.items.length >= templates.max
      ? 'At most ' + templates.max + ' templates are kept: delete one first.'
      : 'This browser does not let the page store templates.');
    return;
  }
  renderTemplates(name);
  ui.templateName.value = '';
  setFormStatus(ui.templateStatus, (replacing ? 'Replaced' : 'Saved') + ' template "' + name + '".');
}

function useTemplate(name) {
  clearFormError(ui.templateError);
  ui.templateDelete.disabled = !name;
  const t = name && templates.find(name);
  if (!t) return;
  ui.pubTopic.value = t.topic;
  ui.pubPayload.value = t.payload;
  ui.pubEncoding.value = t.encoding;
  ui.pubQos.value = String(t.qos);
  ui.pubRetain.checked = t.retain;
  fillProperties(t.properties);
  ui.templateName.value = t.name;
  updatePublishHint();
  setFormStatus(ui.templateStatus, 'The form holds template "' + t.name + '".');
}

function deleteTemplate() {
  const name = ui.templateSelect.value;
  if (!name) return;
  templates.remove(name);
  renderTemplates();
  setFormStatus(ui.templateStatus, 'Deleted template "' + name + '".');
  ui.templateSelect.focus();
}

function initTemplates() {
  templates.load();
  renderTemplates();
  ui.templateSelect.addEventListener('change', () => useTemplate(ui.templateSelect.value));
  ui.templateSave.addEventListener('click', saveTemplate);
  ui.templateDelete.addEventListener('click', deleteTemplate);
  // Enter in the name saves the template rather than publishing the form.
  ui.templateName.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return;
    ev.preventDefault();
    saveTemplate();
  });
}

/** Wire the publish form and the publish frames. */
export function initPublish() {
  initTemplates();
  ui.pubUserPropAdd.addEventListener('click', () => {
    const row = addUserProperty();
    if (row) row.keyInput.focus();
  });
  ui.pubForm.addEventListener('submit', onPublishSubmit);
  ui.pubPayload.addEventListener('input', schedulePublishHint);
  ui.pubEncoding.addEventListener('change', updatePublishHint);
  ui.pubTopic.addEventListener('input', () => clearFormError(ui.pubError));
  ui.pubFormat.addEventListener('click', formatPublishPayload);
  ui.pubPayload.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      ui.pubForm.requestSubmit();
    }
  });

  handleFrame('published', onPublished);
  handleRequests('publish', {
    failed: (ctx, msg, text) => {
      setFormStatus(ui.pubStatus, '');
      showFormError(ui.pubError, text);
    },
    lost: (ctx) => {
      showFormError(ui.pubError, 'Connection lost before "' + ctx.topic + '" was confirmed; it may not have been published.');
    },
  });
}
