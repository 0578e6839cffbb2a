/*
 * Exports of messages (the log, its filtered view, a topic's history) as
 * JSON Lines or CSV, downloaded from the page itself: a Blob behind an
 * <a download>, no round trip to the server.
 *
 * One record per message, oldest first, with the fields of the contract's
 * `message` frame plus when it arrived and whether the page kept all of it:
 *   time (ISO 8601), ts_ms, topic, payload, encoding, qos, retain, size,
 *   truncated, properties (JSON Lines only, when present)
 * CSV cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR
 * first, unless the cell is a plain number) get a leading apostrophe; JSON
 * Lines stay byte for byte what the page holds.
 */

const CSV_COLUMNS = ['time', 'ts_ms', 'topic', 'qos', 'retain', 'encoding', 'size', 'truncated', 'payload'];
const PLAIN_NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** The export record of a message kept by the page (log entry or history value). */
export function exportRecord(m) {
  const rec = {
    time: new Date(m.t).toISOString(),
    ts_ms: m.t,
    topic: m.topic,
    payload: m.payload,
    encoding: m.encoding === 'base64' ? 'base64' : 'utf8',
    qos: m.qos,
    retain: m.retain === true,
    size: m.size,
    truncated: m.truncated === true || m.dropped === true,
  };
  if (m.properties) rec.properties = m.properties;
  return rec;
}

/** JSON Lines: one JSON object per line, each line ended by "\n". */
export function toJsonLines(messages) {
  let out = '';
  for (const m of messages) out += JSON.stringify(exportRecord(m)) + '\n';
  return out;
}

function csvCell(v) {
  let s = v == null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s) && !PLAIN_NUMBER.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/** CSV (RFC 4180: CRLF line ends, a header row, quotes doubled inside quoted cells). */
export function toCsv(messages) {
  const lines = [CSV_COLUMNS.join(',')];
  for (const m of messages) {
    const rec = exportRecord(m);
    lines.push(CSV_COLUMNS.map((c) => csvCell(rec[c])).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

function stamp(t) {
  const d = new Date(t);
  const p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + p(d.getMonth() + 1) + p(d.getDate()) + '-' + p(d.getHours()) + p(d.getMinutes()) + p(d.getSeconds());
}

/** A file name: "mqtt-<what>-<yyyymmdd-hhmmss>.<ext>", `what` reduced to safe characters. */
export function exportName(what, format, now = Date.now()) {
  const safe = what.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 80) || 'export';
  return 'mqtt-' + safe + '-' + stamp(now) + (format === 'csv' ? '.csv' : '.jsonl');
}

/** Offer `text` as a download named `name`. */
export function download(name, text, format) {
  const type = format === 'csv' ? 'text/csv;charset=utf-8' : 'application/x-ndjson;charset=utf-8';
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own reference by now; the URL only holds memory.
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Export `messages` (oldest first) as `format` ('jsonl' or 'csv'); returns the file name. */
export function exportMessages(messages, format, what) {
  const name = exportName(what, format);
  download(name, format === 'csv' ? toCsv(messages) : toJsonLines(messages), format);
  return name;
}
