// socket.js: ReconnectingSocket, a JSON WebSocket that stays connected, and
// the backoff it retries with. No DOM, no assumption about which page or
// origin it runs on: the hub's pages, the dashboard, the chat and <hub-bell>
// all use it.

const BACKOFF_BASE_MS = 500; // first retry after 0.25-0.5 s
const BACKOFF_MAX_MS = 10000; // retries never wait longer than this
const PING_EVERY_MS = 25000; // a ping after this long without a frame...
const PONG_TIMEOUT_MS = 10000; // ...and a reconnect if nothing answers in this
// Close codes retrying cannot fix: not signed in, forbidden, no such
// endpoint, origin refused. Every other code is retried with backoff, 1013
// (try again later: the hub's Redis is down) included.
export const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 1008]);
export const CLOSE_NOT_AUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;

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
 * (may be async) returning one, called before every attempt; if it throws, the
 * attempt counts as a connection closed with the error's `code` (default 1006).
 *
 * Options: `retryable(code)` says whether a close with that code is retried
 * (default: every code but FINAL_CLOSE_CODES); `backoffBaseMs`, `backoffMaxMs`;
 * `resetBackoffOnOpen` (default true): false when only a later frame proves the
 * connection good (a socket that authenticates in its first frame), and the
 * caller calls resetBackoff() then.
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
    this.retryable = options.retryable || ((code) => !FINAL_CLOSE_CODES.has(code));
    this.state = "idle";
    this.attempt = 0;
    this.ws = null;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.onOnline = () => this.retryNow();
    window.addEventListener("online", this.onOnline);
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
    window.removeEventListener("online", this.onOnline);
    if (this.ws && this.ws.close) this.ws.close(1000);
  }

  resetBackoff() {
    this.attempt = 0;
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
      // A function may fetch a fresh ?ticket= URL or token for each attempt.
      ws = new WebSocket(typeof this.url === "function" ? await this.url() : this.url);
    } catch (err) {
      console.warn("hub: could not open the socket", err);
      this.ws = { readyState: WebSocket.CLOSED };
      this.lost(this.ws, err.code || 1006, String(err));
      return;
    }
    if (this.state === "closed") return ws.close(1000);
    this.ws = ws;
    ws.onopen = () => {
      if (this.options.resetBackoffOnOpen !== false) this.resetBackoff();
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
    const final = !this.retryable(code);
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
