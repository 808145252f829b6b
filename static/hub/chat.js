// chat.js: the /chat/<room>/ page on the /ws/chat/<room>/ protocol (docs/CHAT.md):
// history, live messages, typing indicator, presence and read receipts, over
// hub.js's reconnecting socket. Message text is inserted with textContent only.
import { ReconnectingSocket, api, wsUrl } from "./hub.js";

const TYPING_SHOW_MS = 4000; // how long "x is typing" stays without a new signal
const TYPING_SEND_EVERY_MS = 2000; // at most one typing frame this often
const HISTORY_PAGE = 50; // older messages fetched per "load older" click

const root = document.querySelector("[data-hub-chat]");
const room = JSON.parse(document.getElementById("chat-room").textContent);
const me = JSON.parse(document.getElementById("chat-username").textContent);
const log = root.querySelector("[data-chat-log]");
const presence = root.querySelector("[data-chat-presence]");
const typingLine = root.querySelector("[data-chat-typing]");
const form = root.querySelector("[data-chat-form]");
const input = root.querySelector("[data-chat-input]");
const errorLine = root.querySelector("[data-chat-error]");
const olderButton = root.querySelector("[data-chat-older]");

const rows = new Map(); // message id -> <li>
const seenBy = new Map(); // username -> message id they have read up to
const typing = new Map(); // username -> timer
let lastTypingSent = 0;
let lastReadSent = 0;
// Older history comes from the API, newest first, cursor-paginated; null: not
// started (the first page repeats the socket's history and is skipped through).
let olderPath = null;

const socket = new ReconnectingSocket(wsUrl(`/ws/chat/${encodeURIComponent(room)}/`));
socket.addEventListener("frame", (e) => onFrame(e.detail));
socket.addEventListener("close", (e) => {
  if (e.detail.final) showError(e.detail.reason || `Closed (${e.detail.code}).`);
});
socket.addEventListener("state", (e) => {
  root.dataset.state = e.detail;
  if (e.detail === "open") hideError();
});
socket.start();

function onFrame(frame) {
  switch (frame.type) {
    case "history":
      for (const m of frame.messages) addMessage(m);
      // A full history frame means there may be more before it.
      if (frame.messages.length >= HISTORY_PAGE && olderPath === null) olderButton.hidden = false;
      sendRead();
      break;
    case "chat.message":
      addMessage(frame);
      stopTyping(frame.username);
      sendRead();
      break;
    case "presence":
      presence.replaceChildren(
        ...frame.users.map((name) => {
          const li = document.createElement("li");
          li.textContent = name === me ? `${name} (you)` : name;
          return li;
        }),
      );
      break;
    case "typing":
      startTyping(frame.username);
      break;
    case "read_receipt":
      seenBy.set(frame.username, frame.id);
      renderReceipts();
      break;
    case "error":
      showError(frame.message);
      break;
  }
}

function addMessage(m) {
  if (rows.has(m.id)) return; // history after a reconnect repeats what we have
  const li = document.createElement("li");
  li.className = "hub-chat__msg" + (m.username === me ? " hub-chat__msg--mine" : "");
  li.dataset.id = String(m.id);
  const head = document.createElement("div");
  head.className = "hub-chat__head";
  const who = document.createElement("strong");
  who.textContent = m.username;
  const when = document.createElement("time");
  when.dateTime = m.created_at;
  when.textContent = new Date(m.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  head.append(who, " ", when);
  const text = document.createElement("p");
  text.className = "hub-chat__text";
  text.textContent = m.message;
  const receipts = document.createElement("p");
  receipts.className = "hub-chat__receipts";
  li.append(head, text, receipts);
  // Keep id order even when history and live frames interleave.
  const after = [...rows.keys()].filter((id) => id > m.id).sort((a, b) => a - b)[0];
  rows.set(m.id, li);
  if (after === undefined) {
    log.append(li);
    log.scrollTop = log.scrollHeight;
  } else {
    // Inserting above what is on screen must not move what the reader sees.
    const fromBottom = log.scrollHeight - log.scrollTop;
    log.insertBefore(li, rows.get(after));
    log.scrollTop = log.scrollHeight - fromBottom;
  }
  renderReceipts();
}

async function loadOlder() {
  olderButton.disabled = true;
  try {
    let added = 0;
    let path = olderPath || `chat/rooms/${encodeURIComponent(room)}/messages/?limit=${HISTORY_PAGE}`;
    while (path && added === 0) {
      const page = await api(path);
      for (const m of page.results) {
        if (!rows.has(m.id)) added += 1;
        addMessage(m);
      }
      // `next` is absolute; api() wants the part after /api/.
      path = page.next ? page.next.slice(page.next.indexOf("/api/") + 5) : "";
    }
    olderPath = path;
    olderButton.hidden = !path;
  } catch (err) {
    showError("Could not load older messages.");
    console.warn("hub: older messages", err);
  } finally {
    olderButton.disabled = false;
  }
}
olderButton.addEventListener("click", loadOlder);

function renderReceipts() {
  // Each reader is shown once, under the newest message they have read.
  const byMessage = new Map();
  for (const [name, id] of seenBy) {
    const shownAt = [...rows.keys()].filter((rowId) => rowId <= id).sort((a, b) => b - a)[0];
    if (shownAt === undefined) continue;
    if (!byMessage.has(shownAt)) byMessage.set(shownAt, []);
    byMessage.get(shownAt).push(name);
  }
  for (const [id, li] of rows) {
    const names = byMessage.get(id);
    li.querySelector(".hub-chat__receipts").textContent = names ? `Seen by ${names.sort().join(", ")}` : "";
  }
}

function sendRead() {
  if (document.visibilityState !== "visible" || rows.size === 0) return;
  const newest = Math.max(...rows.keys());
  if (newest > lastReadSent && socket.send({ type: "read", id: newest })) lastReadSent = newest;
}
document.addEventListener("visibilitychange", sendRead);

function startTyping(name) {
  clearTimeout(typing.get(name));
  typing.set(name, setTimeout(() => stopTyping(name), TYPING_SHOW_MS));
  renderTyping();
}

function stopTyping(name) {
  if (!typing.has(name)) return;
  clearTimeout(typing.get(name));
  typing.delete(name);
  renderTyping();
}

function renderTyping() {
  const names = [...typing.keys()].sort();
  typingLine.textContent =
    names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
}

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = false;
}

function hideError() {
  errorLine.hidden = true;
}

input.addEventListener("input", () => {
  const now = Date.now();
  if (input.value && now - lastTypingSent > TYPING_SEND_EVERY_MS && socket.send({ type: "typing" })) {
    lastTypingSent = now;
  }
});

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  if (!socket.send({ type: "message", message: text })) {
    showError("Not connected; your message was not sent. Try again in a moment.");
    return;
  }
  hideError();
  input.value = "";
  lastTypingSent = 0;
});
