// hub.js: wires the bell (bell.js) and the socket (socket.js) for the hub's
// own pages, where the user is signed in with the session cookie: the API on
// this origin with the CSRF token, the socket on this host. Loaded as a module
// by every page; other page scripts import the socket and api() from here.

import { Bell, makeToastRegion } from "./bell.js";
import { ReconnectingSocket, backoffDelay, wsUrl } from "./socket.js";

export { ReconnectingSocket, backoffDelay, wsUrl };

const defaults = {
  socketUrl: wsUrl("/ws/notifications/"),
  apiBase: "/api/",
  notificationsUrl: "/notifications/",
  serviceWorkerUrl: "/sw.js",
};
export const config = Object.assign({}, defaults, window.HUB_CONFIG || {});

/** The CSRF token for same-origin POSTs (base.html's meta tag, else the cookie). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) return meta.content;
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** fetch() against the hub's API with the session cookie and CSRF token. */
export async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(config.apiBase + path, {
    method,
    credentials: "same-origin",
    headers: {
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  return response.status === 204 ? null : response.json();
}

function startBell(root) {
  return new Bell(root, {
    socket: new ReconnectingSocket(config.socketUrl),
    api,
    // base.html has a toast region; a page without one gets it appended.
    toasts: document.querySelector("[data-hub-toasts]") || makeToastRegion(document.body),
    conn: document.querySelector("[data-hub-conn]"),
    notificationsUrl: config.notificationsUrl,
    titleCount: true,
    push: { serviceWorkerUrl: config.serviceWorkerUrl },
  });
}

const bellRoot = document.querySelector("[data-hub-bell]");
export const bell = bellRoot ? startBell(bellRoot) : null;
window.hub = { ReconnectingSocket, wsUrl, api, bell, config };
