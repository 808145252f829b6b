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
    if (sock.onHello) sock.onHello();
    return;
  }
  if (tracking && frame.type === "notification") {
    const n = frame.notification;
    let ids = tracking.received.get(sock.user);
    if (!ids) tracking.received.set(sock.user, (ids = []));
    ids.push(n.id);
    if (n.data && n.data.sent_at) tracking.latencies.push(t - n.data.sent_at);
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
    const sock = { ws, user: auth.user, helloed: false, matched: false };
    // A connection token signs in with the first frame, as <hub-bell> does.
    if (auth.jwt) ws.on("open", () => ws.send(JSON.stringify({ type: "auth", token: auth.jwt })));
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(err ? { err } : { sock });
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
      sock.closed = true;
      sock.closeCode = code;
      finish(sock.eioError || "closed " + code);
    });
    ws.on("unexpected-response", (req, res) => {
      finish("http " + res.statusCode);
      req.destroy();
    });
  });
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

async function cmdFire(c) {
  // Arm every open socket for one frame matching c.match, send c.request, and
  // time each socket's delivery from the moment the request was sent.
  for (const s of sockets) s.matched = false;
  const live = sockets.filter((s) => !s.closed);
  let resolve;
  const all = new Promise((r) => (resolve = r));
  waiter = { match: c.match, pending: live.length, times: [], resolve };
  const t0 = nowMs();
  const res = await request(c.request);
  const tResp = nowMs();
  let timer;
  const timeout = new Promise((r) => (timer = setTimeout(r, c.timeout_ms || 10000)));
  if (live.length) await Promise.race([all, timeout]);
  clearTimeout(timer);
  const times = waiter.times.map((t) => t - t0);
  waiter = null;
  const s = summary(times);
  return {
    sockets: live.length,
    delivered: s.n,
    missing: live.length - s.n,
    p50_ms: s.p50_ms,
    p99_ms: s.p99_ms,
    last_ms: s.max_ms,
    response_ms: tResp - t0,
    last_after_response_ms: s.max_ms === null ? null : s.max_ms - (tResp - t0),
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
