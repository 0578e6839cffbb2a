/*
 * The diff of two JSON values for the History panel, as MQTT Explorer shows
 * it: the newer value printed as indented JSON, its lines marked where a key
 * was added or changed, and the keys it lost printed (marked removed) where
 * they were. Pure: nothing here touches the DOM.
 *
 * Unchanged objects and arrays print on one line (clipped), so a diff of big
 * payloads stays short; the whole diff stops at `maxLines` lines.
 */

/** The JSON value of a utf8 payload that is an object or an array; undefined otherwise. */
export function parseJsonPayload(m) {
  if (!m || m.encoding === 'base64' || m.truncated || m.dropped) return undefined;
  const t = m.payload.trim();
  if (t[0] !== '{' && t[0] !== '[') return undefined;
  try {
    return JSON.parse(t);
  } catch (_) {
    return undefined;
  }
}

function isContainer(v) { return v !== null && typeof v === 'object'; }

function sameValue(a, b) {
  if (a === b) return true;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || !sameValue(a[k], b[k])) return false;
  return true;
}

/** One-line JSON of `v`, at most `max` characters. */
export function inlineJson(v, max) {
  let s;
  try {
    s = JSON.stringify(v);
  } catch (_) {
    s = String(v);
  }
  if (s === undefined) s = 'null';
  return s.length > max ? s.slice(0, max) + '…' : s;
}

/**
 * Lines of `cur` (indented JSON) marked against `prev`:
 * `{ lines: [{ text, mark, path }], added, removed, changed, clipped }` where
 * `mark` is '' (same), 'added', 'removed' or 'changed', and the counts say
 * how many keys (or array items) were added, removed, changed.
 */
export function jsonDiff(prev, cur, options = {}) {
  const maxLines = options.maxLines || 400;
  const valueChars = options.valueChars || 200;
  const out = { lines: [], added: 0, removed: 0, changed: 0, clipped: false };

  const emit = (depth, text, mark, path) => {
    if (out.lines.length >= maxLines) {
      out.clipped = true;
      return false;
    }
    out.lines.push({ text: '  '.repeat(depth) + text, mark, path });
    return true;
  };
  const label = (key) => (key === null ? '' : typeof key === 'number' ? '' : JSON.stringify(key) + ': ');
  const join = (path, key) => (path === '' ? String(key) : path + (typeof key === 'number' ? '[' + key + ']' : '.' + key));

  // `key` is null for the root, a number for array items, a string for object keys.
  function walk(a, b, key, depth, path, comma) {
    const tail = comma ? ',' : '';
    if (isContainer(a) && isContainer(b) && Array.isArray(a) === Array.isArray(b) && !sameValue(a, b)) {
      const array = Array.isArray(b);
      if (!emit(depth, label(key) + (array ? '[' : '{'), '', path)) return;
      const keys = array ? [] : Object.keys(b);
      const gone = array ? [] : Object.keys(a).filter((k) => !Object.prototype.hasOwnProperty.call(b, k));
      const n = array ? Math.max(a.length, b.length) : keys.length + gone.length;
      for (let i = 0; i < n && !out.clipped; i++) {
        const last = i === n - 1;
        if (array) {
          if (i >= b.length) removed(a[i], i, depth + 1, join(path, i), !last);
          else if (i >= a.length) added(b[i], i, depth + 1, join(path, i), !last);
          else walk(a[i], b[i], i, depth + 1, join(path, i), !last);
        } else if (i < keys.length) {
          const k = keys[i];
          if (Object.prototype.hasOwnProperty.call(a, k)) walk(a[k], b[k], k, depth + 1, join(path, k), !last);
          else added(b[k], k, depth + 1, join(path, k), !last);
        } else {
          const k = gone[i - keys.length];
          removed(a[k], k, depth + 1, join(path, k), !last);
        }
      }
      emit(depth, (array ? ']' : '}') + tail, '', path);
      return;
    }
    if (sameValue(a, b)) {
      emit(depth, label(key) + inlineJson(b, valueChars) + tail, '', path);
      return;
    }
    out.changed++;
    emit(depth, label(key) + inlineJson(b, valueChars) + tail + '   (was ' + inlineJson(a, valueChars) + ')', 'changed', path);
  }
  function added(v, key, depth, path, comma) {
    out.added++;
    emit(depth, label(key) + inlineJson(v, valueChars) + (comma ? ',' : ''), 'added', path);
  }
  function removed(v, key, depth, path, comma) {
    out.removed++;
    emit(depth, label(key) + inlineJson(v, valueChars) + (comma ? ',' : ''), 'removed', path);
  }

  if (prev === undefined) {
    // The first value: nothing to compare with.
    walk(cur, cur, null, 0, '', false);
  } else {
    walk(prev, cur, null, 0, '', false);
  }
  return out;
}
