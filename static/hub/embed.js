// embed.js: <hub-bell>, the hub's bell on a product's own pages, served from
// the product's origin while the hub runs on another.
//
// Usage, on any page of the product where a user is signed in:
//
//   <script type="module" src="https://hub.example/static/hub/embed.js"></script>
//   <hub-bell hub-url="https://hub.example" token-url="/hub/token/"></hub-bell>
//
// - hub-url: the hub's address; its socket (/ws/notifications/) and its API
//   (/api/) are under it. The page's origin must be in the hub's
//   HUB_CORS_ALLOWED_ORIGINS.
// - token-url: a URL of the product (the page's origin). The element GETs it
//   with the product's cookies and expects `{"token": "<connection token>",
//   "expires_at": <unix seconds, optional>}` for the signed-in user, or 401, 403
//   or a redirect (to a login page) when nobody is signed in. hub_client.django's
//   token view answers it.
//
// What it does: the same bell as the hub's own pages (bell.js on socket.js:
// badge, dropdown, toasts, mark read, mark all read, live across tabs,
// reconnect and resume, keyboard and screen-reader use) inside its own shadow
// root (mode "open"), styled by the hub's bell.css: the product's CSS does not
// reach in and the bell's does not leak out; theme it with the custom
// properties, e.g. `hub-bell { --hub-accent: rebeccapurple; }`. It signs the
// socket in with {"type": "auth", "token"} as its first frame, sends a fresh
// token on the open socket before the current one expires, and after a 4401
// close (token refused or expired) reconnects with a fresh one, with backoff,
// giving up after AUTH_RETRIES_MAX refusals in a row. API calls carry
// `Authorization: Bearer <token>` and no cookies. The element dispatches
// `hub:notification`, `hub:read` and `hub:frame` events, which bubble.

import { Bell, makeToastRegion, renderBell } from "./bell.js";
import { CLOSE_NOT_AUTHENTICATED, FINAL_CLOSE_CODES, ReconnectingSocket } from "./socket.js";

const AUTH_RETRIES_MAX = 4; // 4401 closes in a row before the element gives up
const REFRESH_LEAD_MAX_MS = 60000; // a token is renewed this long before it expires...
const REFRESH_LEAD_SHARE = 0.2; // ...or this share of its lifetime, if shorter
const REFRESH_RETRY_MS = 5000; // a failed renewal is tried again after this
// Renewals never come closer together than this, whatever a token (or a skewed
// clock) says: a token that short-lived expires first and is replaced on 4401.
const REFRESH_MIN_MS = 2000;

/** An Error whose `code` ReconnectingSocket treats as the attempt's close code. */
function closeError(message, code) {
  return Object.assign(new Error(message), { code });
}

/** The claims of a JWT, unverified: only to read when it expires. */
function jwtClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

/** The signed-in user's connection token, from the product's token-url. */
class ConnectionToken {
  constructor(url) {
    this.url = url;
    this.value = null;
    this.renewAt = null; // Date.now() after which it is renewed; null: never
    this.loading = null;
  }

  /** The token, fetched first if there is none or it is due for renewal. */
  async current() {
    if (this.value && (this.renewAt === null || Date.now() < this.renewAt)) return this.value;
    return this.fetch();
  }

  /** A new token from the product (concurrent callers share one request). */
  fetch() {
    this.loading ||= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /** Forget the token: the hub refused it or it expired. */
  invalidate() {
    this.value = null;
  }

  async load() {
    const response = await fetch(this.url, {
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual", // a redirect to a login page means: nobody signed in
      headers: { Accept: "application/json" },
    });
    if ([401, 403].includes(response.status) || response.type === "opaqueredirect") {
      throw closeError(`hub-bell: ${this.url} says nobody is signed in`, CLOSE_NOT_AUTHENTICATED);
    }
    if (!response.ok) throw closeError(`hub-bell: ${this.url}: HTTP ${response.status}`, 1006);
    // Anything but {"token": "..."} is a misconfigured token-url: retrying
    // will not fix it, so it counts as a refusal.
    const body = await response.json().catch(() => ({}));
    if (typeof body.token !== "string" || !body.token) {
      throw closeError(`hub-bell: ${this.url} answered without a "token"`, CLOSE_NOT_AUTHENTICATED);
    }
    this.value = body.token;
    this.renewAt = this.renewalTime(body);
    return this.value;
  }

  renewalTime(body) {
    const claims = jwtClaims(body.token);
    let lifetimeMs;
    if (Number.isFinite(claims.exp) && Number.isFinite(claims.iat)) {
      lifetimeMs = (claims.exp - claims.iat) * 1000; // whatever the browser's clock says
    } else {
      const expiresAt = Number.isFinite(body.expires_at) ? body.expires_at : claims.exp;
      if (!Number.isFinite(expiresAt)) return null; // renewed only when refused
      lifetimeMs = expiresAt * 1000 - Date.now();
    }
    const leadMs = Math.min(REFRESH_LEAD_MAX_MS, lifetimeMs * REFRESH_LEAD_SHARE);
    return Date.now() + Math.max(REFRESH_MIN_MS, lifetimeMs - leadMs);
  }
}

// bell.css, fetched once (the hub serves static files with CORS) and adopted
// by every <hub-bell> on the page. Until it has arrived the element is hidden.
const hiddenSheet = new CSSStyleSheet();
hiddenSheet.replaceSync(":host { visibility: hidden; }");
let bellSheet = null;

function loadBellSheet() {
  bellSheet ||= fetch(new URL("./bell.css", import.meta.url))
    .then((response) => {
      if (!response.ok) throw new Error(`bell.css: HTTP ${response.status}`);
      return response.text();
    })
    .then((css) => {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      return sheet;
    });
  return bellSheet;
}

export class HubBellElement extends HTMLElement {
  connectedCallback() {
    if (this.bell) return; // moved within the page: keep the connection
    const hubUrl = this.getAttribute("hub-url");
    const tokenUrl = this.getAttribute("token-url");
    if (!hubUrl || !tokenUrl) {
      console.error("hub-bell: both hub-url and token-url are required");
      return;
    }
    // A trailing slash, so a hub under a path prefix keeps it.
    this.hubBase = new URL(hubUrl.endsWith("/") ? hubUrl : `${hubUrl}/`, window.location.href);
    this.token = new ConnectionToken(new URL(tokenUrl, window.location.href));
    this.authFailures = 0;
    this.refreshTimer = null;
    this.render();

    const socket = new ReconnectingSocket(() => this.socketUrl(), {
      retryable: (code) => this.retryable(code),
      resetBackoffOnOpen: false, // only `hello` proves the token was taken
    });
    socket.addEventListener("open", () => socket.send({ type: "auth", token: this.authToken }));
    socket.addEventListener("frame", (e) => this.onFrame(e.detail));
    this.socket = socket;
    this.bell = new Bell(this.bellRoot, {
      socket,
      api: (path, options) => this.api(path, options),
      toasts: this.toasts,
      conn: this.conn,
      events: this,
    });
  }

  disconnectedCallback() {
    // A move within the page disconnects and connects again at once.
    queueMicrotask(() => {
      if (this.isConnected || !this.bell) return;
      clearTimeout(this.refreshTimer);
      this.bell.destroy();
      this.bell = null;
    });
  }

  render() {
    const shadow = this.shadowRoot || this.attachShadow({ mode: "open" });
    shadow.adoptedStyleSheets = [hiddenSheet];
    loadBellSheet().then(
      (sheet) => {
        shadow.adoptedStyleSheets = [sheet];
      },
      (err) => {
        console.warn("hub-bell: no styles", err);
        shadow.adoptedStyleSheets = []; // unstyled, but usable
      },
    );
    this.conn = document.createElement("span");
    this.conn.className = "hub-conn hub-visually-hidden";
    this.conn.dataset.hubConn = "";
    this.conn.setAttribute("role", "status");
    this.bellRoot = renderBell(document.createElement("div"));
    shadow.replaceChildren(this.conn, this.bellRoot);
    this.toasts = makeToastRegion(shadow);
  }

  /** Called before every connection attempt: a token first, never in the URL. */
  async socketUrl() {
    this.authToken = await this.token.current();
    const url = new URL("ws/notifications/", this.hubBase);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  /** A 4401 (token refused or expired) is retried with a fresh token, a few
   * times in a row; other codes as on the hub's own pages. */
  retryable(code) {
    if (code !== CLOSE_NOT_AUTHENTICATED) return !FINAL_CLOSE_CODES.has(code);
    this.token.invalidate();
    this.authFailures += 1;
    return this.authFailures <= AUTH_RETRIES_MAX;
  }

  onFrame(frame) {
    if (frame.type === "hello") {
      this.authFailures = 0;
      this.socket.resetBackoff();
      this.scheduleRefresh();
    }
  }

  scheduleRefresh(delayMs) {
    clearTimeout(this.refreshTimer);
    const renewAt = this.token.renewAt;
    if (delayMs === undefined && renewAt === null) return;
    const delay = delayMs ?? Math.max(0, renewAt - Date.now());
    this.refreshTimer = setTimeout(() => this.refresh(), delay);
  }

  /** A new token on the open socket (answered `auth_ok`): no reconnect. */
  async refresh() {
    let token;
    try {
      token = await this.token.fetch();
    } catch (err) {
      console.warn("hub-bell: could not renew the token", err);
      // Signed out of the product: the socket closes when the token expires.
      if (err.code !== CLOSE_NOT_AUTHENTICATED) this.scheduleRefresh(REFRESH_RETRY_MS);
      return;
    }
    // Not open: the next connection attempt uses the new token anyway.
    this.socket.send({ type: "auth", token });
    this.scheduleRefresh();
  }

  /** The hub's API with the token; a 401 is retried once with a fresh one. */
  async api(path, { method = "GET", body } = {}, retried = false) {
    const token = await this.token.current();
    const response = await fetch(new URL(`api/${path}`, this.hubBase), {
      method,
      credentials: "omit",
      headers: {
        Accept: "application/json",
        Authorization: `Bearer ${token}`,
        ...(body ? { "Content-Type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (response.status === 401 && !retried) {
      this.token.invalidate();
      return this.api(path, { method, body }, true);
    }
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
    return response.status === 204 ? null : response.json();
  }
}

if (!customElements.get("hub-bell")) customElements.define("hub-bell", HubBellElement);
