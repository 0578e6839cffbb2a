/*
 * The chart's range from the server's history: the range form of
 * `GET /api/history` (`from`, `to`, `before`, newest first, docs/protocol.md),
 * paged back until the range is covered or CHART_MAX_POINTS values came,
 * whichever is first (the status then says the range was cut).
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
 * The values of `topic` in [from, to), oldest first: resolves to
 * `{ ok: true, values: [{ t, payload, encoding }], capped }` or
 * `{ ok: false, message }`. `stale()` true drops the load between pages.
 */
export async function loadRange(topic, from, to, stale) {
  const got = [];
  let before = null;
  for (;;) {
    const params = { topic, from, to: to === null ? undefined : to, before: before || undefined, limit: CONFIG.HISTORY_FETCH_LIMIT };
    const res = await apiCall('GET', withQuery('/api/history', params));
    if (stale()) return { ok: false, message: 'superseded' };
    if (!res.ok) return { ok: false, message: res.message };
    const d = res.data;
    if (!d || typeof d !== 'object' || !Array.isArray(d.messages)) {
      return { ok: false, message: 'the server does not answer history by range' };
    }
    for (const x of d.messages) {
      if (!x || typeof x.payload !== 'string' || !Number.isFinite(x.ts_ms)) continue;
      if (x.topic !== undefined && x.topic !== topic) continue;
      got.push({ t: x.ts_ms, payload: x.payload, encoding: x.encoding === 'base64' ? 'base64' : 'utf8' });
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
