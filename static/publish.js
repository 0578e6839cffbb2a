/*
 * The publish form: topic, payload (with a hint when it looks like JSON but
 * does not parse, and a Format button), QoS, encoding and retain.
 */

import { ui, showFormError, clearFormError, setFormStatus } from './dom.js';
import { jsonHint, formatClock, formatBytes } from './format.js';
import { send, takePending, handleFrame, handleRequests } from './connection.js';

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
  const msg = {
    type: 'publish',
    topic,
    payload: ui.pubPayload.value,
    encoding: ui.pubEncoding.value,
    qos: Number(ui.pubQos.value) || 0,
    retain: ui.pubRetain.checked,
  };
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
  updatePublishHint();
  if (m.truncated) {
    ui.pubHint.textContent = 'The page kept only the first ' + formatBytes(m.kept) + ' of this ' +
      formatBytes(m.size) + ' payload: publishing sends those alone.';
    ui.pubHint.hidden = false;
  }
  ui.pubPayload.focus();
}

/** Wire the publish form and the publish frames. */
export function initPublish() {
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
