// Socket.IO's wire format over a plain WebSocket, as much of it as the load client
// needs: engine.io protocol 4 packets carrying Socket.IO protocol 5 packets on the
// default namespace, text only, no acknowledgements. The client opens
// /socket.io/?EIO=4&transport=websocket straight away (no HTTP long-polling first).
//
//   server "0{...}"          engine.io open (sid, pingInterval) -> answer "40" (join "/")
//   server "40{...}"         namespace connected: the socket is ready (the hub's hello)
//   server "2"               engine.io ping                      -> answer "3" (pong)
//   server '42["name",data]' an event                             -> {name, data}
//   server "44{...}"         connect refused; "41" disconnected; "1" engine.io close
"use strict";

const OPEN = "0";
const CLOSE = "1";
const PING = "2";
const MESSAGE = "4";
// Socket.IO packet types, inside an engine.io message.
const SIO_CONNECT = "0";
const SIO_DISCONNECT = "1";
const SIO_EVENT = "2";
const SIO_CONNECT_ERROR = "4";

// "42", an optional acknowledgement id, then the JSON array [name, ...args].
const EVENT = /^42(\d*)(\[[\s\S]*)$/;

/**
 * One text frame from the server: what to answer (reply, or null), whether the
 * socket is now connected to the namespace, an event ({name, data}) or why the
 * socket ends (error).
 */
function decode(text) {
  const out = { reply: null, connected: false, event: null, error: null };
  if (text === PING) {
    out.reply = "3";
  } else if (text[0] === OPEN) {
    out.reply = MESSAGE + SIO_CONNECT;
  } else if (text[0] === CLOSE) {
    out.error = "engine.io close";
  } else if (text[0] === MESSAGE) {
    const type = text[1];
    if (type === SIO_CONNECT) {
      out.connected = true;
    } else if (type === SIO_EVENT) {
      const m = EVENT.exec(text);
      const args = m ? JSON.parse(m[2]) : null;
      if (Array.isArray(args) && typeof args[0] === "string") {
        out.event = { name: args[0], data: args.length > 1 ? args[1] : null };
      }
    } else if (type === SIO_CONNECT_ERROR) {
      out.error = "connect_error " + text.slice(2);
    } else if (type === SIO_DISCONNECT) {
      out.error = "disconnected by the server";
    }
  }
  return out;
}

module.exports = { decode, PATH: "/socket.io/?EIO=4&transport=websocket" };
