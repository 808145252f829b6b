// hub.js: the hub's one browser client. Loaded as a module by every page.
//
// - ReconnectingSocket: a JSON WebSocket that reconnects with exponential
//   backoff and full jitter, pings to find dead connections, and stops on the
//   close codes that retrying cannot fix (exported for other page scripts).
// - The bell: unread badge, dropdown of the latest notifications, toasts,
//   desktop notifications (asked for only on a click), connection state. It
//   keeps the highest notification id it has seen and sends `resume` with it on
//   every reconnect, so nothing created while it was away is missed (the
//   server sends a socket its ids in order, never past a missing one, and
//   catches an open socket up itself after a Redis outage: docs/PROTOCOL.md,
//   so the highest id is a safe resume point); ids it already has are
//   ignored, so nothing shows twice. Read state and the badge
//   follow the server's `read` and `unread` frames, which every tab receives.
//
// All text from the server is inserted with textContent, never as HTML.

const BACKOFF_BASE_MS = 500; // first retry after 0.25-0.5 s
const BACKOFF_MAX_MS = 10000; // retries never wait longer than this
const PING_EVERY_MS = 25000; // a ping after this long without a frame...
const PONG_TIMEOUT_MS = 10000; // ...and a reconnect if nothing answers in this
const LATEST_ITEMS = 10; // notifications kept in the dropdown
const TOAST_SHOW_MS = 6000;
const TOASTS_MAX = 3; // more arriving at once become one summary toast
// Close codes retrying cannot fix: not signed in, forbidden, no such
// endpoint, origin refused.
const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 1008]);

const defaults = {
  socketUrl: wsUrl("/ws/notifications/"),
  apiBase: "/api/",
  notificationsUrl: "/notifications/",
};
export const config = Object.assign({}, defaults, window.HUB_CONFIG || {});

/** The ws:// or wss:// URL of a path on this page's host. */
export function wsUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}${path}`;
}

/** Delay before retry number `attempt` (0-based): full jitter over an
 * exponentially growing window, so many tabs do not reconnect in step. */
export function backoffDelay(attempt, baseMs = BACKOFF_BASE_MS, maxMs = BACKOFF_MAX_MS) {
  const windowMs = Math.min(maxMs, baseMs * 2 ** attempt);
  return windowMs / 2 + Math.random() * (windowMs / 2);
}

/**
 * A JSON WebSocket that stays connected. `url` is a ws(s):// URL, or a function
 * (may be async) returning one, called before every attempt.
 *
 * Events (EventTarget): "open"; "frame" (detail: the parsed frame); "state"
 * (detail: "connecting" | "open" | "reconnecting" | "closed"); "close" (detail:
 * {code, reason, final}). Call start() once; send(obj) returns false when the
 * socket is not open (nothing is queued: callers decide what a lost frame means).
 */
export class ReconnectingSocket extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.options = options;
    this.state = "idle";
    this.attempt = 0;
    this.ws = null;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    window.addEventListener("online", () => this.retryNow());
  }

  start() {
    if (this.state === "idle") this.connect("connecting");
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  close() {
    this.stopTimers();
    this.setState("closed");
    if (this.ws) this.ws.close(1000);
  }

  retryNow() {
    if (this.state === "reconnecting" && this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.connect("reconnecting");
    }
  }

  async connect(state) {
    this.retryTimer = null;
    this.setState(state);
    let ws;
    try {
      // A function may fetch a fresh single-use ?ticket= URL for each attempt.
      ws = new WebSocket(typeof this.url === "function" ? await this.url() : this.url);
    } catch (err) {
      console.warn("hub: could not open the socket", err);
      this.ws = { readyState: WebSocket.CLOSED };
      this.lost(this.ws, 1006, String(err));
      return;
    }
    if (this.state === "closed") return ws.close(1000);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("open");
      this.armPing();
      this.dispatchEvent(new Event("open"));
    };
    ws.onmessage = (e) => {
      this.armPing();
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return; // the hub only sends JSON; ignore anything else
      }
      this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
    };
    ws.onclose = (e) => this.lost(ws, e.code, e.reason);
  }

  lost(ws, code, reason) {
    if (ws !== this.ws || this.state === "closed") return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    this.ws = null;
    this.stopTimers();
    const final = FINAL_CLOSE_CODES.has(code);
    this.dispatchEvent(new CustomEvent("close", { detail: { code, reason, final } }));
    if (final) {
      this.setState("closed");
      return;
    }
    this.setState("reconnecting");
    const delay = backoffDelay(this.attempt++, this.options.backoffBaseMs, this.options.backoffMaxMs);
    this.retryTimer = setTimeout(() => this.connect("reconnecting"), delay);
  }

  armPing() {
    clearTimeout(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = setTimeout(() => {
      this.send({ type: "ping" });
      // Any frame re-arms; silence means the connection is dead though open.
      this.pongTimer = setTimeout(() => {
        const ws = this.ws;
        if (!ws) return;
        ws.close();
        this.lost(ws, 1006, "no answer to ping");
      }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopTimers() {
    clearTimeout(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.retryTimer);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }
}

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

/** A notification's url if it is safe to follow (http(s) or a local path). */
function safeUrl(url) {
  if (!url) return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

const CONN_TEXT = {
  idle: "Connecting…",
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};

/** The bell and everything around it; one per page. */
class Bell {
  constructor(root) {
    this.root = root;
    this.button = root.querySelector("[data-hub-bell-button]");
    this.panel = root.querySelector("[data-hub-bell-panel]");
    this.list = root.querySelector("[data-hub-bell-list]");
    this.empty = root.querySelector("[data-hub-bell-empty]");
    this.badge = root.querySelector("[data-hub-badge]");
    this.count = root.querySelector("[data-hub-badge-count]");
    this.desktop = root.querySelector("[data-hub-desktop]");
    this.toasts = document.querySelector("[data-hub-toasts]") || makeToastRegion();
    this.conn = document.querySelector("[data-hub-conn]");
    this.items = new Map(); // id -> notification, the dropdown's content
    this.lastId = null; // highest id seen on the socket: the resume point
    this.baseTitle = document.title.replace(/^\(\d+\) /, "");
    this.setUnread(parseInt(this.count.textContent, 10) || 0);
    this.bindUi();
    this.socket = new ReconnectingSocket(config.socketUrl);
    this.socket.addEventListener("frame", (e) => this.onFrame(e.detail));
    this.socket.addEventListener("state", (e) => this.showState(e.detail));
    this.socket.addEventListener("close", (e) => {
      if (e.detail.code === 4401) this.showState("closed", "Signed out: log in again");
    });
    this.socket.start();
  }

  // --- socket frames ------------------------------------------------------------

  onFrame(frame) {
    switch (frame.type) {
      case "hello":
        this.setUnread(frame.unread);
        if (this.lastId === null) {
          // First connect: the dropdown comes from the feed; live from here on.
          this.lastId = frame.last_id;
          this.loadLatest();
        } else {
          this.resumeBatch = [];
          this.socket.send({ type: "resume", last_id: this.lastId });
        }
        break;
      case "notification":
        this.onNotification(frame.notification);
        break;
      case "resumed":
        if (frame.more) {
          this.socket.send({ type: "resume", last_id: frame.last_id });
        } else {
          this.flushResumed();
        }
        break;
      case "unread":
        this.setUnread(frame.unread);
        break;
      case "read":
        for (const id of frame.ids) this.markLocal(id);
        document.dispatchEvent(new CustomEvent("hub:read", { detail: frame.ids }));
        break;
      default:
        document.dispatchEvent(new CustomEvent("hub:frame", { detail: frame }));
    }
  }

  onNotification(n) {
    if (this.lastId === null || n.id > this.lastId) this.lastId = n.id;
    if (this.items.has(n.id)) return; // already shown: a resume overlapping a push
    this.remember(n);
    this.renderList();
    document.dispatchEvent(new CustomEvent("hub:notification", { detail: n }));
    if (this.resumeBatch) this.resumeBatch.push(n);
    else this.announce([n]);
  }

  flushResumed() {
    const batch = this.resumeBatch || [];
    this.resumeBatch = null;
    if (batch.length) this.announce(batch);
  }

  async loadLatest() {
    try {
      const page = await api(`notifications/?limit=${LATEST_ITEMS}`);
      for (const n of page.results) if (!this.items.has(n.id)) this.remember(n);
      this.renderList();
    } catch (err) {
      console.warn("hub: could not load the latest notifications", err);
    }
  }

  remember(n) {
    this.items.set(n.id, n);
    const ids = [...this.items.keys()].sort((a, b) => b - a);
    for (const id of ids.slice(LATEST_ITEMS)) this.items.delete(id);
  }

  markLocal(id) {
    const n = this.items.get(id);
    if (n && !n.read_at) {
      n.read_at = new Date().toISOString();
      this.renderList();
    }
  }

  // --- rendering ------------------------------------------------------------------

  setUnread(n) {
    this.unread = n;
    this.count.textContent = String(n);
    this.badge.hidden = n === 0;
    document.title = n ? `(${n}) ${this.baseTitle}` : this.baseTitle;
  }

  showState(state, text) {
    if (!this.conn) return;
    this.conn.dataset.state = state;
    this.conn.textContent = text || CONN_TEXT[state] || state;
  }

  renderList() {
    const sorted = [...this.items.values()].sort((a, b) => b.id - a.id);
    const rows = sorted.map((n) => this.row(n));
    this.list.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
  }

  row(n) {
    const li = el("li", `hub-bell__item hub-level--${n.level}${n.read_at ? "" : " hub-bell__item--unread"}`);
    li.dataset.id = String(n.id);
    const url = safeUrl(n.url);
    const link = el(url ? "a" : "button", "hub-bell__link");
    if (url) link.href = url;
    else link.type = "button";
    link.append(el("span", "hub-bell__title", n.title));
    if (n.body) link.append(el("span", "hub-bell__body", n.body));
    link.append(el("span", "hub-bell__meta", formatTime(n.created_at)));
    link.addEventListener("click", (e) => {
      e.preventDefault();
      this.open(n);
    });
    li.append(link);
    return li;
  }

  /** Mark read (every tab hears it from the server), then follow the url. */
  async open(n) {
    this.markLocal(n.id);
    try {
      await api(`notifications/${n.id}/read/`, { method: "POST" });
    } catch (err) {
      console.warn("hub: could not mark read", err);
    }
    const url = safeUrl(n.url);
    if (url) window.location.assign(url);
  }

  announce(batch) {
    if (batch.length > TOASTS_MAX) {
      this.toast({ title: `${batch.length} new notifications`, body: "", url: config.notificationsUrl });
    } else {
      for (const n of batch) this.toast(n);
    }
    this.desktopAlert(batch);
  }

  toast(n) {
    if (!this.toasts) return;
    const toast = el("div", `hub-toast hub-level--${n.level || "info"}`);
    toast.append(el("strong", "hub-toast__title", n.title));
    if (n.body) toast.append(el("span", "hub-toast__body", n.body));
    const close = el("button", "hub-toast__close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", (e) => {
      e.stopPropagation();
      toast.remove();
    });
    toast.append(close);
    if (n.id) toast.addEventListener("click", () => this.open(n));
    else if (n.url) toast.addEventListener("click", () => window.location.assign(n.url));
    this.toasts.append(toast);
    while (this.toasts.children.length > TOASTS_MAX) this.toasts.firstElementChild.remove();
    setTimeout(() => toast.remove(), TOAST_SHOW_MS);
  }

  desktopAlert(batch) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible") return; // the toast is enough
    const n = batch.length === 1 ? batch[0] : { title: `${batch.length} new notifications`, body: "", id: "batch" };
    // The tag makes the OS show one alert however many tabs are open.
    const alert = new Notification(n.title, { body: n.body || "", tag: `hub-${n.id}` });
    alert.onclick = () => {
      window.focus();
      if (n.id !== "batch") this.open(n);
    };
  }

  // --- interaction ----------------------------------------------------------------

  bindUi() {
    this.button.addEventListener("click", () => this.toggle());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !this.panel.hidden) {
        this.toggle(false);
        this.button.focus();
      }
    });
    document.addEventListener("click", (e) => {
      if (!this.panel.hidden && !this.root.contains(e.target)) this.toggle(false);
    });
    this.root.querySelector("[data-hub-read-all]").addEventListener("click", async () => {
      for (const id of this.items.keys()) this.markLocal(id);
      try {
        await api("notifications/read-all/", { method: "POST" });
      } catch (err) {
        console.warn("hub: could not mark all read", err);
      }
    });
    if ("Notification" in window && Notification.permission === "default") {
      this.desktop.hidden = false;
      // Asked only here, on a click: browsers ignore or penalise unprompted asks.
      this.desktop.addEventListener("click", async () => {
        const answer = await Notification.requestPermission();
        this.desktop.hidden = answer !== "default";
      });
    }
  }

  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
  }
}

/** Pages without base.html's toast region (an embedded bell) get one. */
function makeToastRegion() {
  const region = el("div", "hub-toasts");
  region.dataset.hubToasts = "";
  region.setAttribute("role", "status");
  region.setAttribute("aria-live", "polite");
  document.body.append(region);
  return region;
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? ""
    : date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

const bellRoot = document.querySelector("[data-hub-bell]");
export const bell = bellRoot ? new Bell(bellRoot) : null;
window.hub = { ReconnectingSocket, wsUrl, api, bell, config };
