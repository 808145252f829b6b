// center.js: keeps the server-rendered notification center honest while it is
// open: items read elsewhere lose their unread mark, and new notifications
// offer a link that reloads the list (the page stays put while you read it).
import "./hub.js";

const list = document.querySelector("[data-hub-center-list]");
const fresh = document.querySelector("[data-hub-center-new]");

document.addEventListener("hub:notification", () => {
  if (fresh) fresh.hidden = false;
});

document.addEventListener("hub:read", (e) => {
  if (!list) return;
  for (const id of e.detail) {
    const item = list.querySelector(`[data-id="${Number(id)}"]`);
    if (item) item.classList.remove("hub-item--unread");
  }
});
