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
// It reports what it showed to the person (a toast or the open dropdown, while
// the page is visible: the Page Visibility API) with batched `seen` frames, so
// the hub does not Web-Push what was already seen (docs/PUSH.md). A frame
// marked `quiet` (in-app alerts off for its category) gets no toast or desktop
// alert, so it is reported only if the person opens the dropdown.
//
// All text from the server is inserted with textContent, never as HTML.

const LATEST_ITEMS = 10; // notifications kept in the dropdown
const TOAST_SHOW_MS = 6000;
const TOASTS_MAX = 3; // more arriving at once become one summary toast
const SVG_NS = "http://www.w3.org/2000/svg";
const SEEN_FLUSH_MS = 300; // ids shown within this are reported in one frame
const SEEN_MAX_IDS = 100; // the server's limit per `seen` frame

const PUSH_TEXT = {
  on: "Push notifications: on",
  off: "Turn on push notifications",
  blocked: "Push notifications: blocked by the browser",
  unsupported: "Push notifications: not supported here",
};

const CONN_TEXT = {
  idle: "Connecting…",
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};

/**
 * A notification's url if it is safe to follow, else null: an absolute http(s)
 * URL, or a path that stays on this page's site. The API's rule
 * (notifications/serializers.py validate_url), checked again for rows saved
 * another way: browsers read "/\\evil.example" and "//evil.example" as other
 * hosts, so a path counts only if it resolves to this page's origin.
 */
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return null;
  // Control characters are stripped or refused by URL parsers in
  // ways that differ; backslashes read as slashes. Neither is in a fair link.
  if (/[\u0000-\u001f\u007f\\]/.test(url)) return null;
  try {
    if (/^https?:\/\//i.test(url)) {
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    }
    if (url.startsWith("/")) {
      const parsed = new URL(url, window.location.href);
      return parsed.origin === window.location.origin ? parsed.href : null;
    }
  } catch {
    return null;
  }
  return null;
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
  const push = el("button", "hub-link-button", PUSH_TEXT.off);
  push.type = "button";
  push.dataset.hubPush = "";
  push.hidden = true;
  foot.append(desktop, push);
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
 * - titleCount: prefix the document's title with "(unread)";
 * - push: {serviceWorkerUrl} to offer the Web Push opt-in (the hub's own pages,
 *   whose origin serves /sw.js); without it the opt-in stays hidden.
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
    this.pushButton = root.querySelector("[data-hub-push]");
    this.seenPending = new Set(); // shown, not yet reported
    this.seenSent = new Set(); // reported (or already seen per the server)
    this.seenTimer = null;
    this.hiddenToasts = new Map(); // id -> toast drawn while the page was hidden
    this.items = new Map(); // id -> notification, the dropdown's content
    this.lastId = null; // highest id seen on the socket: the resume point
    this.listeners = new AbortController(); // document listeners, for destroy()
    this.baseTitle = document.title.replace(/^\(\d+\) /, "");
    this.setUnread(parseInt(this.count.textContent, 10) || 0);
    this.bindUi();
    this.bindSeen();
    if (options.push && this.pushButton) this.bindPush(options.push);
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
    clearTimeout(this.seenTimer);
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
        this.flushSeen(); // what was shown while the socket was down
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
        this.onNotification(frame.notification, frame.quiet === true);
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

  /**
   * A notification from the socket. A quiet one (the person turned in-app
   * alerts off for its category) joins the dropdown and the count but gets no
   * toast or desktop alert, and so is not reported `seen`: push and email still
   * follow for it.
   */
  onNotification(n, quiet = false) {
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
    if (quiet) return;
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
      if (!this.panel.hidden) this.markSeen([...this.items.keys()]);
    } catch (err) {
      console.warn("hub: could not load the latest notifications", err);
    }
  }

  remember(n) {
    if (n.seen_at) this.seenSent.add(n.id);
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
    if (n.id && this.pageVisible()) this.markSeen([n.id]);
    else if (n.id) this.hiddenToasts.set(n.id, toast);
    setTimeout(() => {
      toast.remove();
      this.hiddenToasts.delete(n.id);
    }, TOAST_SHOW_MS);
  }

  // --- seen state -----------------------------------------------------------------

  pageVisible() {
    return this.root.ownerDocument.visibilityState === "visible";
  }

  bindSeen() {
    // A toast drawn in a background tab counts as seen only if it is still on
    // screen when the person comes back to the tab.
    this.root.ownerDocument.addEventListener(
      "visibilitychange",
      () => {
        if (!this.pageVisible()) return;
        const shown = [...this.hiddenToasts].filter(([, toast]) => toast.isConnected);
        this.hiddenToasts.clear();
        this.markSeen(shown.map(([id]) => id));
        if (!this.panel.hidden) this.markSeen([...this.items.keys()]);
      },
      { signal: this.listeners.signal },
    );
  }

  /** Report ids shown on the visible page, batched into one `seen` frame. */
  markSeen(ids) {
    if (!this.pageVisible()) return;
    for (const id of ids) if (!this.seenSent.has(id)) this.seenPending.add(id);
    if (this.seenPending.size && !this.seenTimer) {
      this.seenTimer = setTimeout(() => this.flushSeen(), SEEN_FLUSH_MS);
    }
  }

  flushSeen() {
    clearTimeout(this.seenTimer);
    this.seenTimer = null;
    while (this.seenPending.size) {
      const ids = [...this.seenPending].slice(0, SEEN_MAX_IDS);
      // Not sent (socket down): kept, and sent after the next hello.
      if (!this.socket.send({ type: "seen", ids })) return;
      for (const id of ids) {
        this.seenPending.delete(id);
        this.seenSent.add(id);
      }
    }
  }

  // --- Web Push opt-in ------------------------------------------------------------

  /** The opt-in: asks for permission only when clicked; shows the state. */
  async bindPush({ serviceWorkerUrl }) {
    this.pushButton.hidden = false;
    const supported =
      "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
    if (!supported) return this.showPush("unsupported");
    let key;
    try {
      key = (await this.api("push/key/")).public_key;
    } catch {
      return this.showPush("unsupported"); // the hub has no VAPID key
    }
    let registration, current;
    try {
      registration = await navigator.serviceWorker.register(serviceWorkerUrl);
      current = await registration.pushManager.getSubscription();
    } catch (err) {
      // No service worker here after all (a private window, a blocked or
      // insecure origin): nothing to turn on.
      console.warn("hub: no service worker, so no push", err);
      return this.showPush("unsupported");
    }
    if (current && base64url(current.options.applicationServerKey) !== key) {
      // The hub's key was rotated: the old subscription can never be pushed to.
      await current.unsubscribe();
      current = null;
    }
    if (Notification.permission === "denied") this.showPush("blocked");
    else this.showPush(current ? "on" : "off");
    this.pushButton.addEventListener("click", async () => {
      try {
        if (this.pushButton.dataset.state === "on") await this.pushOff(registration);
        else if (this.pushButton.dataset.state === "off") await this.pushOn(registration, key);
      } catch (err) {
        console.warn("hub: push opt-in failed", err);
        this.showPush(Notification.permission === "denied" ? "blocked" : "off");
      }
    });
  }

  async pushOn(registration, key) {
    const answer = await Notification.requestPermission();
    if (answer !== "granted") return this.showPush(answer === "denied" ? "blocked" : "off");
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: key,
    });
    await this.api("push/subscriptions/", { method: "POST", body: subscription.toJSON() });
    this.showPush("on");
  }

  async pushOff(registration) {
    const subscription = await registration.pushManager.getSubscription();
    if (subscription) {
      await this.api("push/subscriptions/", {
        method: "DELETE",
        body: { endpoint: subscription.endpoint },
      });
      await subscription.unsubscribe();
    }
    this.showPush("off");
  }

  showPush(state) {
    this.pushButton.dataset.state = state;
    this.pushButton.textContent = PUSH_TEXT[state];
    this.pushButton.disabled = state === "blocked" || state === "unsupported";
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
    if (open) {
      this.keepOnScreen();
      this.markSeen([...this.items.keys()]);
    }
  }

  /** The panel hangs left from the bell's right edge; a bell near the left of
   * the screen (as it may be on a product's page) gets it hanging right. */
  keepOnScreen() {
    this.panel.classList.remove("hub-bell__panel--start");
    if (this.panel.getBoundingClientRect().left < 0) this.panel.classList.add("hub-bell__panel--start");
  }
}

function base64url(buffer) {
  if (!buffer) return "";
  const text = btoa(String.fromCharCode(...new Uint8Array(buffer)));
  return text.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? ""
    : date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
