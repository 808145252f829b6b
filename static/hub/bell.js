// bell.js: the bell (unread badge, dropdown of the latest notifications,
// toasts, desktop alerts, connection state), drawn into a root element it is
// given and fed by a socket and an api(path, options) function it is given. It
// assumes neither the page's origin nor any element of the document: the hub's
// own pages (hub.js) and <hub-bell> on a product's pages (embed.js) run this
// same code.
//
// It keeps the highest notification id it has seen and sends `resume` with it
// on every reconnect, so nothing created while it was away is missed (the
// server sends a socket its ids in order, never past a missing one, and
// catches an open socket up itself after a Redis outage, docs/PROTOCOL.md: so
// the highest id is a safe resume point); ids it already has are ignored, so
// nothing shows twice. Read state and the badge
// follow the server's `read` and `unread` frames, which every tab receives.
//
// All text from the server is inserted with textContent, never as HTML.

const LATEST_ITEMS = 10; // notifications kept in the dropdown
const TOAST_SHOW_MS = 6000;
const TOASTS_MAX = 3; // more arriving at once become one summary toast
const SVG_NS = "http://www.w3.org/2000/svg";

const CONN_TEXT = {
  idle: "Connecting…",
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};

/** A notification's url if it is safe to follow (http(s) or a local path). */
export function safeUrl(url) {
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

function bellIcon() {
  const svg = document.createElementNS(SVG_NS, "svg");
  const attrs = {
    "aria-hidden": "true", width: "20", height: "20", viewBox: "0 0 24 24", fill: "none",
    stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round",
  };
  for (const [name, value] of Object.entries(attrs)) svg.setAttribute(name, value);
  for (const d of ["M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9", "M13.73 21a2 2 0 0 1-3.46 0"]) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/**
 * The bell's markup, the same as the server-rendered hub/_bell.html, for a root
 * that has none (<hub-bell>). Without `seeAllUrl` the "See all" link is left
 * out (a product's users have no hub pages to see).
 */
export function renderBell(root, { seeAllUrl } = {}) {
  root.classList.add("hub-bell");
  root.dataset.hubBell = "";
  const button = el("button", "hub-bell__button");
  button.type = "button";
  button.setAttribute("aria-haspopup", "true");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "hub-bell-panel");
  button.dataset.hubBellButton = "";
  const badge = el("span", "hub-bell__badge");
  badge.dataset.hubBadge = "";
  badge.setAttribute("aria-live", "polite");
  badge.setAttribute("aria-atomic", "true");
  badge.hidden = true;
  const count = el("span", null, "0");
  count.dataset.hubBadgeCount = "";
  badge.append(count, el("span", "hub-visually-hidden", " unread"));
  button.append(bellIcon(), el("span", "hub-visually-hidden", "Notifications"), badge);

  const panel = el("div", "hub-bell__panel");
  panel.id = "hub-bell-panel";
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", "Latest notifications");
  panel.hidden = true;
  panel.dataset.hubBellPanel = "";
  const head = el("div", "hub-bell__head");
  const readAll = el("button", "hub-link-button", "Mark all read");
  readAll.type = "button";
  readAll.dataset.hubReadAll = "";
  head.append(el("strong", null, "Notifications"), readAll);
  const list = el("ul", "hub-bell__list");
  list.dataset.hubBellList = "";
  const empty = el("p", "hub-bell__empty", "Nothing yet.");
  empty.dataset.hubBellEmpty = "";
  const foot = el("div", "hub-bell__foot");
  if (seeAllUrl) {
    const seeAll = el("a", null, "See all");
    seeAll.href = seeAllUrl;
    foot.append(seeAll);
  }
  const desktop = el("button", "hub-link-button", "Enable desktop alerts");
  desktop.type = "button";
  desktop.dataset.hubDesktop = "";
  desktop.hidden = true;
  foot.append(desktop);
  panel.append(head, list, empty, foot);
  root.replaceChildren(button, panel);
  return root;
}

/** A live region for toasts, appended to `parent`. */
export function makeToastRegion(parent) {
  const region = el("div", "hub-toasts");
  region.dataset.hubToasts = "";
  region.setAttribute("role", "status");
  region.setAttribute("aria-live", "polite");
  parent.append(region);
  return region;
}

/**
 * The bell and everything around it.
 *
 * root: the element with the bell's markup (hub/_bell.html or renderBell()).
 * options:
 * - socket: a ReconnectingSocket to /ws/notifications/, not yet started;
 * - api(path, {method, body}): the hub's API under /api/, resolving to the
 *   parsed JSON (null for 204) and rejecting on an HTTP error;
 * - toasts: the element toasts go into; conn: one that shows the connection
 *   state (optional);
 * - events: where hub:notification, hub:read and hub:frame are dispatched
 *   (default: the root's document);
 * - notificationsUrl: what a summary toast opens (default: the dropdown);
 * - titleCount: prefix the document's title with "(unread)".
 */
export class Bell {
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.api = options.api;
    this.socket = options.socket;
    this.toasts = options.toasts;
    this.conn = options.conn || null;
    this.events = options.events || root.ownerDocument;
    this.button = root.querySelector("[data-hub-bell-button]");
    this.panel = root.querySelector("[data-hub-bell-panel]");
    this.list = root.querySelector("[data-hub-bell-list]");
    this.empty = root.querySelector("[data-hub-bell-empty]");
    this.badge = root.querySelector("[data-hub-badge]");
    this.count = root.querySelector("[data-hub-badge-count]");
    this.desktop = root.querySelector("[data-hub-desktop]");
    this.items = new Map(); // id -> notification, the dropdown's content
    this.lastId = null; // highest id seen on the socket: the resume point
    this.listeners = new AbortController(); // document listeners, for destroy()
    this.baseTitle = document.title.replace(/^\(\d+\) /, "");
    this.setUnread(parseInt(this.count.textContent, 10) || 0);
    this.bindUi();
    this.socket.addEventListener("frame", (e) => this.onFrame(e.detail));
    // "close" comes before the "state" it leads to, which then says why.
    this.socket.addEventListener("close", (e) => {
      this.signedOut = e.detail.final && e.detail.code === 4401;
    });
    this.socket.addEventListener("state", (e) => this.showState(e.detail));
    this.socket.start();
  }

  /** Close the socket and drop the listeners on the document. */
  destroy() {
    this.socket.close();
    this.listeners.abort();
  }

  emit(name, detail) {
    this.events.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
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
        // The replay got this far: everything up to frame.last_id is here.
        if (frame.last_id > this.lastId) this.lastId = frame.last_id;
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
        this.emit("hub:read", frame.ids);
        break;
      default:
        this.emit("hub:frame", frame);
    }
  }

  onNotification(n) {
    // During a resume a live push can be newer than ids the replay has still
    // to send: then only `resumed` moves the resume point, or a connection
    // lost in between would resume past them.
    if (!this.resumeBatch && (this.lastId === null || n.id > this.lastId)) {
      this.lastId = n.id;
    }
    if (this.items.has(n.id)) return; // already shown: a resume overlapping a push
    this.remember(n);
    this.renderList();
    this.emit("hub:notification", n);
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
      const page = await this.api(`notifications/?limit=${LATEST_ITEMS}`);
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
    if (this.options.titleCount) document.title = n ? `(${n}) ${this.baseTitle}` : this.baseTitle;
  }

  showState(state) {
    if (!this.conn) return;
    this.conn.dataset.state = state;
    const signedOut = state === "closed" && this.signedOut;
    this.conn.textContent = signedOut ? "Signed out: log in again" : CONN_TEXT[state] || state;
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
      await this.api(`notifications/${n.id}/read/`, { method: "POST" });
    } catch (err) {
      console.warn("hub: could not mark read", err);
    }
    const url = safeUrl(n.url);
    if (url) window.location.assign(url);
  }

  announce(batch) {
    if (batch.length > TOASTS_MAX) {
      const title = `${batch.length} new notifications`;
      this.toast({ title, body: "", url: this.options.notificationsUrl, summary: true });
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
    else if (n.summary) toast.addEventListener("click", () => this.toggle(true));
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
    const doc = this.root.ownerDocument;
    const signal = this.listeners.signal;
    this.button.addEventListener("click", () => this.toggle());
    doc.addEventListener(
      "keydown",
      (e) => {
        if (e.key === "Escape" && !this.panel.hidden) {
          this.toggle(false);
          this.button.focus();
        }
      },
      { signal },
    );
    // composedPath() sees into a shadow root, where e.target is only its host.
    doc.addEventListener(
      "click",
      (e) => {
        if (!this.panel.hidden && !e.composedPath().includes(this.root)) this.toggle(false);
      },
      { signal },
    );
    this.root.querySelector("[data-hub-read-all]").addEventListener("click", async () => {
      for (const id of this.items.keys()) this.markLocal(id);
      try {
        await this.api("notifications/read-all/", { method: "POST" });
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
    if (open) this.keepOnScreen();
  }

  /** The panel hangs left from the bell's right edge; a bell near the left of
   * the screen (as it may be on a product's page) gets it hanging right. */
  keepOnScreen() {
    this.panel.classList.remove("hub-bell__panel--start");
    if (this.panel.getBoundingClientRect().left < 0) this.panel.classList.add("hub-bell__panel--start");
  }
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? ""
    : date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
