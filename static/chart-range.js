/*
 * The chart's range from the server's history: the range form of
 * `GET /api/history` (`from`, `to`, `before`, newest first, docs/protocol.md),
 * paged back until the range is covered or CHART_MAX_POINTS values came,
 * whichever is first (the status then says the range was cut), and the seam
 * where the page's live values continue the loaded ones.
 *
 * The seam. Live messages carry no time or id of the server's, and the
 * recorder writes in batches, so neither "after the load began" nor "after
 * the last history point" says which live values the database already
 * held. What does: the database holds the topic's messages up to some
 * point, in the order the page got them too. The live values whose run,
 * up to that point, is the tail of the loaded history are in it; the ones
 * after are new; history values the page has not got yet are not charted
 * again when they come (joinAt). Only runs of repeated payloads are
 * ambiguous: a repeat of the same value may then be lost or doubled at the
 * seam, never a different value.
 */

import { CONFIG } from './config.js';
import { apiCall, withQuery } from './http.js';

/** The bounds [from, to) in milliseconds of range `kind` (`hour`, `day`, `custom`); null when invalid. */
export function rangeBounds(kind, fromText, toText, now = Date.now()) {
  if (kind === 'hour') return { from: now - 3600e3, to: null };
  if (kind === 'day') return { from: now - 86400e3, to: null };
  if (kind !== 'custom') return null;
  const from = Date.parse(fromText);
  const to = toText ? Date.parse(toText) : NaN;
  if (!Number.isFinite(from)) return null;
  if (Number.isFinite(to) && to <= from) return null;
  return { from, to: Number.isFinite(to) ? to : null };
}

/**
 * Whether the chart keeps a value of history: what the page keeps of live
 * values for the chart too (text, at most HISTORY_PAYLOAD_MAX characters),
 * so that both runs can be matched at the seam.
 */
function chartable(x) {
  return x.encoding !== 'base64' && x.payload.length <= CONFIG.HISTORY_PAYLOAD_MAX;
}

/**
 * The values of `topic` in [from, to), oldest first: resolves to
 * `{ ok: true, values: [{ t, p }], capped }` or `{ ok: false, status, message }`.
 * `stale()` true drops the load between pages.
 */
export async function loadRange(topic, from, to, stale) {
  const got = [];
  let before = null;
  for (;;) {
    const params = { topic, from, to, before, limit: CONFIG.HISTORY_FETCH_LIMIT };
    const res = await apiCall('GET', withQuery('/api/history', params));
    if (stale()) return { ok: false, status: 0, message: 'superseded' };
    if (!res.ok) return { ok: false, status: res.status, message: res.message };
    const d = res.data;
    if (!d || typeof d !== 'object' || !Array.isArray(d.messages)) {
      return { ok: false, status: res.status, message: 'the server does not answer history by range' };
    }
    for (const x of d.messages) {
      if (!x || typeof x.payload !== 'string' || !Number.isFinite(x.ts_ms)) continue;
      if (x.topic !== undefined && x.topic !== topic) continue;
      if (chartable(x)) got.push({ t: x.ts_ms, p: x.payload });
    }
    const next = typeof d.next === 'string' && d.next ? d.next : null;
    if (got.length >= CONFIG.CHART_MAX_POINTS) {
      got.length = CONFIG.CHART_MAX_POINTS;
      return { ok: true, values: got.reverse(), capped: next !== null };
    }
    if (!next || next === before || !d.messages.length) return { ok: true, values: got.reverse(), capped: false };
    before = next;
  }
}

/**
 * Where the page's live values `live` ([{ t, p }], oldest first) go on
 * after the loaded history `hist` (same form). Both are runs of the one
 * stream of the topic's messages; the history ends where the database was
 * when it was asked, which may be before the page's newest live value (the
 * recorder writes in batches) or after it (the message is on its way to the
 * page). Resolves to `{ start, ahead }`: live values from `start` on are
 * not in the history, and `ahead` are the history's newest values the page
 * has not got yet (each skipped when it comes, see `skipAhead`).
 *
 * The alignment is the one nearest to "the history ends with the page's
 * newest value" under which every value both hold is the same; none (no
 * value in common) means every live value came after the history.
 */
export function joinAt(hist, live) {
  const n = hist.length;
  const l = live.length;
  if (!n || !l) return { start: 0, ahead: [] };
  // `a`: how many of the stream's values from live[0] on the history holds.
  for (let step = 0; step <= Math.max(l, n); step++) {
    for (const a of step ? [l + step, l - step] : [l]) {
      if (a < 1 || a > l + n - 1 || !aligned(hist, live, a)) continue;
      return { start: Math.min(a, l), ahead: a > l ? hist.slice(n - (a - l)) : [] };
    }
  }
  return { start: 0, ahead: [] };
}

/** Whether live[i] is hist[n - a + i] for every i both hold. */
function aligned(hist, live, a) {
  const n = hist.length;
  for (let i = Math.max(0, a - n); i < Math.min(a, live.length); i++) {
    if (live[i].p !== hist[n - a + i].p) return false;
  }
  return true;
}

/**
 * Whether a live value with payload `p` is the next of `ahead` (the
 * history's values the page had not got when it was loaded): then it is
 * taken off and not charted again. Anything else ends the wait.
 */
export function skipAhead(ahead, p) {
  if (!ahead.length) return false;
  if (ahead[0].p === p) {
    ahead.shift();
    return true;
  }
  ahead.length = 0;
  return false;
}
