// A peer for `make bench`: Socket.IO 4 with its Redis adapter, as a team would
// deploy it to scale out, doing what the floor does. Every socket joins one room;
// `POST /broadcast` with {"event": {...}} answers 202 and emits one "event" to the
// room, shaped like the hub's topic frame; `GET /healthz` counts the sockets.
//
// Socket.IO's own defaults otherwise: WebSocket frames uncompressed
// (perMessageDeflate off, like the hub's uvicorn flags), a ping every 25 s. With
// the Redis adapter a room emit is sent to this server's sockets at once and
// published to Redis for the other servers (none here).
//
//   PORT=8001 REDIS_URL=redis://127.0.0.1:6379 SIO_REDIS_KEY=bench node sio_server.js
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const ROOM = "bench";

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => resolve(Buffer.concat(chunks).toString()));
    req.on("error", reject);
  });
}

async function main() {
  const pub = createClient({ url: process.env.REDIS_URL || "redis://127.0.0.1:6379" });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);

  // Socket.IO answers its own path (/socket.io/) and hands the rest to this.
  const server = http.createServer(async (req, res) => {
    let status = 404;
    let reply = { detail: "not found" };
    if (req.method === "POST" && req.url === "/broadcast") {
      const body = JSON.parse((await readBody(req)) || "{}");
      io.to(ROOM).emit("event", { type: "event", topic: "socket.io", event: body.event || {} });
      status = 202;
      reply = {};
    } else if (req.url === "/healthz") {
      status = 200;
      reply = { sockets: io.engine.clientsCount };
    }
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(reply));
  });
  const io = new Server(server, {
    adapter: createAdapter(pub, sub, { key: process.env.SIO_REDIS_KEY || "socket.io" }),
  });
  io.on("connection", (socket) => socket.join(ROOM));

  const port = Number(process.env.PORT || 8001);
  server.listen(port, "127.0.0.1", () => console.error(`socket.io on :${port}`));
  const stop = () => {
    io.close();
    pub.quit().catch(() => {});
    sub.quit().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
