/*
 * The HTTP API of docs/protocol.md from the page (`/api/history`,
 * `/api/retained`): one call that answers with the data or the contract's
 * error, never throws, so that every panel can fall back the same way when
 * a route is missing (404) or refused (401 / 403).
 */

/**
 * `method` `path` (a string with its query already encoded); resolves to
 * `{ ok: true, status, data }` or `{ ok: false, status, code, message }`
 * (`status` 0 when the server could not be reached).
 */
export async function apiCall(method, path) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      // The pages' Referrer-Policy (no-referrer) would make the browser send
      // `Origin: null` with a DELETE, which the server refuses as cross-origin.
      referrerPolicy: 'same-origin',
      headers: { accept: 'application/json' },
    });
  } catch (err) {
    return { ok: false, status: 0, code: 'network', message: 'the server could not be reached (' + err.message + ')' };
  }
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    // Not JSON (a proxy's page, an empty body): the status says enough.
  }
  if (res.ok) return { ok: true, status: res.status, data };
  const e = data && data.error && typeof data.error === 'object' ? data.error : {};
  return {
    ok: false,
    status: res.status,
    code: typeof e.code === 'string' ? e.code : 'http_' + res.status,
    message: typeof e.message === 'string' && e.message ? e.message : 'HTTP ' + res.status,
  };
}

/** `path` with `params` ({ name: value }) as its query string. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.append(k, String(v));
  return path + '?' + q.toString();
}
