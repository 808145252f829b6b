// The load client of `make bench`: holds many WebSockets in one Node process and
// times deliveries. Driven by bench/run.py with one JSON command per stdin line;
// answers one JSON line per command on stdout (logs go to stderr).
//
// Sockets speak the hub's protocol (JSON text frames; the floor's too) or, with
// `"protocol": "eio4"`, Socket.IO's (bench/eio.js) for the Socket.IO peers.
//
// Times are wall-clock milliseconds (performance.timeOrigin + now()), so they can
// be compared with time.time() in the Python processes on the same machine.
"use strict";

const http = require("http");
const readline = require("readline");
const { performance } = require("perf_hooks");
const WebSocket = require("ws");
const eio = require("./eio");

const nowMs = () => performance.timeOrigin + performance.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

let sockets = []; // {ws, user, open, got: Map-or-null}
let waiter = null; // {match, pending, times, resolve}
let requested = 0; // sockets asked for so far: each socket's seq
let tracking = null; // {received: Map(user -> ids), latencies: []}

function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

function summary(values) {
  const s = Float64Array.from(values).sort();
  return {
    n: s.length,
    p50_ms: pct(s, 50),
    p99_ms: pct(s, 99),
    max_ms: s.length ? s[s.length - 1] : null,
  };
}

function onText(sock, text) {
  const t = nowMs();
  let frame;
  try {
    frame = JSON.parse(text);
  } catch (e) {
    return;
  }
  onFrame(sock, frame, t);
}

// A Socket.IO peer: engine.io packets (bench/eio.js); its "event" events carry
// the same frames as the hub's and the floor's, and its connect ack is the hello.
function onEioText(sock, text) {
  const t = nowMs();
  let packet;
  try {
    packet = eio.decode(text);
  } catch (e) {
    return;
  }
  if (packet.reply) sock.ws.send(packet.reply);
  if (packet.error) {
    // A refused namespace connect leaves the engine.io socket open: end it, so
    // the connect fails with the reason instead of a timeout.
    sock.eioError = packet.error;
    sock.ws.close(1000);
  } else if (packet.connected) {
    onFrame(sock, { type: "hello" }, t);
  } else if (packet.event && packet.event.data) {
    onFrame(sock, packet.event.data, t);
  }
}

function onFrame(sock, frame, t) {
  if (!sock.helloed) {
    sock.helloed = true;
    // The resume point starts at the first hello's last_id (a new client).
    if (sock.lastId === undefined && typeof frame.last_id === "number") sock.lastId = frame.last_id;
    // A reconnect resumes in the hello's own handler: a live push in the same
    // read must not move the resume point past what the resume replays.
    if (sock.reconnecting) {
      sock.resuming = true;
      sock.ws.send(JSON.stringify({ type: "resume", last_id: sock.lastId || 0 }));
    }
    if (sock.onHello) sock.onHello();
    return;
  }
  if (frame.type === "notification") {
    const n = frame.notification;
    // While a resume is under way only `resumed` moves the resume point
    // (docs/PROTOCOL.md), as bell.js does.
    if (!sock.resuming && n.id > (sock.lastId || 0)) sock.lastId = n.id;
    if (tracking) {
      let ids = tracking.received.get(sock.user);
      if (!ids) tracking.received.set(sock.user, (ids = []));
      ids.push(n.id);
      if (n.data && n.data.sent_at) tracking.latencies.push(t - n.data.sent_at);
    }
  }
  if (frame.type === "resumed" && sock.resuming) {
    if (frame.last_id > (sock.lastId || 0)) sock.lastId = frame.last_id;
    if (frame.more) {
      sock.ws.send(JSON.stringify({ type: "resume", last_id: sock.lastId }));
    } else {
      sock.resuming = false;
      if (sock.onResumed) sock.onResumed();
    }
  }
  if (waiter && !sock.matched && matches(frame, waiter.match)) {
    sock.matched = true;
    waiter.times.push(t);
    if (--waiter.pending === 0) waiter.resolve();
  }
}

function matches(frame, match) {
  if (frame.type !== match.type) return false;
  let v = frame;
  for (const key of match.path) {
    if (v === null || typeof v !== "object") return false;
    v = v[key];
  }
  return v === match.value;
}

function openOne(url, auth, opts) {
  const sock = { ws: null, user: auth.user, url, auth, opts, helloed: false, matched: false };
  return dial(sock).then((err) => (err ? { err } : { sock }));
}

// Open sock's WebSocket (again); resolves with null once its hello arrived, or
// with the reason it did not.
function dial(sock) {
  const { url, auth, opts } = sock;
  return new Promise((resolve) => {
    const headers = {};
    if (auth.token) headers.Authorization = "Token " + auth.token;
    if (auth.cookie) headers.Cookie = auth.cookie;
    if (opts.origin) headers.Origin = opts.origin;
    const ws = new WebSocket(url, {
      headers,
      perMessageDeflate: !!opts.deflate,
      handshakeTimeout: opts.timeout_ms,
    });
    sock.ws = ws;
    sock.helloed = false;
    sock.closed = false;
    // A connection token signs in with the first frame, as <hub-bell> does.
    if (auth.jwt) ws.on("open", () => ws.send(JSON.stringify({ type: "auth", token: auth.jwt })));
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(err);
    };
    const timer = setTimeout(() => {
      finish("timeout");
      ws.terminate();
    }, opts.timeout_ms);
    sock.onHello = () => finish(null);
    const onMessage = opts.protocol === "eio4" ? onEioText : onText;
    ws.on("message", (data) => onMessage(sock, data.toString()));
    ws.on("error", (e) => finish(e.code || e.message || "error"));
    ws.on("close", (code) => {
      if (ws !== sock.ws) return;
      sock.closed = true;
      sock.closeCode = code;
      finish(sock.eioError || "closed " + code);
      if (sock.reconnect && !sock.reconnecting) reconnect(sock);
    });
    ws.on("unexpected-response", (req, res) => {
      finish("http " + res.statusCode);
      req.destroy();
    });
  });
}

// static/hub/socket.js's backoff: full jitter over a window that doubles from
// 0.5 s up to 10 s, so the sockets of a restarted server come back spread out.
function backoffDelay(attempt) {
  const windowMs = Math.min(10000, 500 * 2 ** attempt);
  return windowMs / 2 + Math.random() * (windowMs / 2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What a browser's bell does when its socket is lost: reconnect with backoff,
// then `resume` from the last id it saw until `resumed` says nothing more.
async function reconnect(sock) {
  sock.reconnecting = true;
  sock.lostAt = nowMs();
  sock.resumedAt = null;
  for (let attempt = 0; sock.reconnect; attempt++) {
    await sleep(backoffDelay(attempt));
    if (!sock.reconnect) break;
    reconnects.attempts++;
    const err = await dial(sock);
    if (err) {
      reconnects.errors[err] = (reconnects.errors[err] || 0) + 1;
      continue;
    }
    const resumed = await new Promise((resolve) => {
      if (!sock.resuming) return resolve(!sock.closed);
      sock.onResumed = () => resolve(true);
      sock.ws.once("close", () => resolve(false));
    });
    sock.resuming = false;
    if (resumed) {
      sock.resumedAt = nowMs();
      break;
    }
  }
  sock.reconnecting = false;
  // A close during the resume's last frame: the next loss starts again.
  if (sock.reconnect && sock.closed) reconnect(sock);
}

let reconnects = { attempts: 0, errors: {} };

// {on: true}: every open socket reconnects and resumes when it is lost;
// {on: false}: no more; without `on`: where the lost sockets stand.
function cmdReconnecting(c) {
  if (c.on !== undefined) {
    for (const s of sockets) {
      s.reconnect = c.on;
      if (c.on) s.lostAt = s.resumedAt = null;
    }
    if (c.on) reconnects = { attempts: 0, errors: {} };
  }
  const lost = sockets.filter((s) => s.lostAt);
  const back = lost.filter((s) => s.resumedAt);
  return {
    sockets: sockets.length,
    lost: lost.length,
    resumed: back.length,
    first_lost_ms: lost.length ? Math.min(...lost.map((s) => s.lostAt)) : null,
    last_resumed_ms: back.length ? Math.max(...back.map((s) => s.resumedAt)) : null,
    // With `detail`, when each was back: a restart's shape.
    resumed_at_ms: c.detail ? back.map((s) => s.resumedAt) : undefined,
    attempts: reconnects.attempts,
    errors: reconnects.errors,
  };
}

async function cmdConnect(c) {
  // Open one socket per entry of c.auth, at most c.concurrency handshakes at once;
  // a socket counts once its first frame (hello) arrived.
  const started = nowMs();
  const errors = {};
  let ok = 0;
  let next = 0;
  const opts = {
    deflate: c.deflate,
    origin: c.origin,
    timeout_ms: c.timeout_ms || 30000,
    protocol: c.protocol || "hub",
  };
  async function lane() {
    while (next < c.auth.length) {
      const auth = c.auth[next++];
      const seq = requested++;
      const r = await openOne(c.url, auth, opts);
      if (r.sock) {
        r.sock.seq = seq;
        sockets.push(r.sock);
        ok++;
      } else {
        errors[r.err] = (errors[r.err] || 0) + 1;
      }
    }
  }
  const lanes = [];
  for (let i = 0; i < Math.min(c.concurrency || 100, c.auth.length); i++) lanes.push(lane());
  await Promise.all(lanes);
  const seconds = (nowMs() - started) / 1000;
  const failed = c.auth.length - ok;
  return { ok, failed, errors, seconds, per_sec: ok / seconds, open: sockets.length };
}

async function cmdClose(c) {
  // Keep the first `keep` sockets in the order they were asked for (the bench
  // keeps users 0..keep-1), not the order their handshakes finished in.
  const keep = c.keep || 0;
  sockets.sort((a, b) => a.seq - b.seq);
  const closing = sockets.slice(keep);
  sockets = sockets.slice(0, keep);
  for (const s of closing) s.reconnect = false;
  await Promise.all(
    closing.map(
      (s) =>
        new Promise((resolve) => {
          if (s.closed) return resolve();
          const t = setTimeout(() => {
            s.ws.terminate();
            resolve();
          }, 5000);
          s.ws.once("close", () => {
            clearTimeout(t);
            resolve();
          });
          s.ws.close(1000);
        }),
    ),
  );
  return { open: sockets.length, closed: closing.length };
}

function request(r) {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? null : Buffer.from(JSON.stringify(r.body));
    const headers = { ...(r.headers || {}) };
    if (body) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = body.length;
    }
    const req = http.request(r.url, { method: r.method || "GET", headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (d) => chunks.push(d));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try {
          json = JSON.parse(text);
        } catch (e) {
          json = text.slice(0, 300);
        }
        resolve({ status: res.statusCode, body: json });
      });
    });
    req.on("error", reject);
    req.setTimeout(30000, () => req.destroy(new Error("http timeout")));
    if (body) req.write(body);
    req.end();
  });
}

// Arm every open socket for one frame matching `match`.
function arm(match) {
  for (const s of sockets) s.matched = false;
  const live = sockets.filter((s) => !s.closed);
  let resolve;
  const all = new Promise((r) => (resolve = r));
  waiter = { match, pending: live.length, times: [], resolve, all, live: live.length };
  if (!live.length) resolve();
}

// Wait for the armed frame on every armed socket (or timeout_ms); times from t0.
async function collect(t0, timeoutMs) {
  let timer;
  const timeout = new Promise((r) => (timer = setTimeout(r, timeoutMs || 10000)));
  await Promise.race([waiter.all, timeout]);
  clearTimeout(timer);
  const times = waiter.times.map((t) => t - t0);
  const live = waiter.live;
  waiter = null;
  const s = summary(times);
  return {
    sockets: live,
    delivered: s.n,
    missing: live - s.n,
    p50_ms: s.p50_ms,
    p99_ms: s.p99_ms,
    last_ms: s.max_ms,
  };
}

async function cmdFire(c) {
  // Arm every open socket for one frame matching c.match, send c.request, and
  // time each socket's delivery from the moment the request was sent.
  arm(c.match);
  const t0 = nowMs();
  const res = await request(c.request);
  const tResp = nowMs();
  const out = await collect(t0, c.timeout_ms);
  return {
    ...out,
    response_ms: tResp - t0,
    last_after_response_ms: out.last_ms === null ? null : out.last_ms - (tResp - t0),
    status: res.status,
    body: res.body,
    t0_ms: t0,
  };
}

function cmdTrack(c) {
  if (c.stop && !tracking) return { frames: 0 };
  if (c.on) {
    tracking = { received: new Map(), latencies: [] };
    return { tracking: true };
  }
  const received = {};
  let frames = 0;
  for (const [user, ids] of tracking.received) {
    received[user] = ids;
    frames += ids.length;
  }
  const s = summary(tracking.latencies);
  if (c.stop) tracking = null;
  // Sockets the server or the network closed (code by user): what they missed
  // is not lost, a real client resumes it.
  const closed = {};
  for (const sock of sockets) if (sock.closed) closed[sock.user] = sock.closeCode;
  return { frames, latency: s, received, closed };
}

const commands = {
  connect: cmdConnect,
  close: cmdClose,
  fire: cmdFire,
  track: cmdTrack,
  reconnecting: cmdReconnecting,
  // Another client's fire: arm here first, then collect with its t0_ms.
  arm: async (c) => {
    arm(c.match);
    return { sockets: waiter.live };
  },
  collect: (c) => collect(c.t0_ms, c.timeout_ms),
  open: async () => ({ open: sockets.filter((s) => !s.closed).length }),
};

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on("line", (line) => {
  queue = queue.then(async () => {
    let out;
    try {
      const c = JSON.parse(line);
      out = await commands[c.cmd](c);
    } catch (e) {
      out = { error: String((e && e.stack) || e) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  });
});
rl.on("close", () => {
  for (const s of sockets) s.ws.terminate();
  process.exit(0);
});
