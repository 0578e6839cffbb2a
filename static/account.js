/*
 * The signed-in user's controls (loaded by templates/index.html only when
 * users are configured): the sign-out button, and the way back to the login
 * form when the login ends while the page is open.
 *
 * The server closes a socket whose login ended (expired, signed out, user
 * removed) with 1008, and refuses the upgrade of a new one; either way the
 * socket closes, so on every close this module asks the server whether the
 * page is still signed in, and goes to /login when it is not.
 */

import { onConnection } from './connection.js';

const LOGIN = '/login';

async function signedIn() {
  try {
    // Asked as a page, the server redirects to /login rather than answering
    // 401, which could make the browser pop up its own password dialog.
    const res = await fetch('/', { headers: { accept: 'text/html' }, redirect: 'manual' });
    return res.type !== 'opaqueredirect';
  } catch (_) {
    return true; // The server is unreachable: the socket's back-off handles that.
  }
}

async function signOut(button) {
  button.disabled = true;
  try {
    // JSON like every POST here; the server answers 415 to anything else.
    // The pages' Referrer-Policy (no-referrer) would make the browser send
    // `Origin: null`, which the server refuses: same-origin sends the real one.
    await fetch('/logout', {
      method: 'POST',
      referrerPolicy: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
  } finally {
    location.assign(LOGIN);
  }
}

function init() {
  const button = document.querySelector('[data-testid="logout-button"]');
  if (button) button.addEventListener('click', () => signOut(button));
  onConnection('closed', async () => {
    if (!(await signedIn())) location.assign(LOGIN);
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
