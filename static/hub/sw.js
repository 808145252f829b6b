// sw.js: the hub's service worker, served at /sw.js so its scope is the whole
// site. It shows what the hub pushes (delivery/webpush.py's payload: id, title,
// body, url, level, read_token) and, on a click, focuses a tab on its link or
// opens one, and marks it read through the API. The tag is the notification's id,
// so a push that arrives twice (a retry after a crash) is shown once.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: event.data.text() };
  }
  const title = data.title || "New notification";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: data.body || "",
      tag: data.id ? `hub-${data.id}` : undefined,
      data: { id: data.id, url: data.url || "/notifications/", readToken: data.read_token },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { url, readToken } = event.notification.data || {};
  // The link first: a browser lets a worker focus or open a window only for a
  // short while after the click (Chromium: 10 s), which a slow read must not
  // use up. Both run at once; the worker stays up until both are done.
  event.waitUntil(Promise.all([showLink(url), markRead(readToken)]));
});

/** Focus a tab already on the link, or open one. */
async function showLink(url) {
  const target = new URL(url || "/notifications/", self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === target && "focus" in client) return client.focus();
  }
  return self.clients.openWindow(target);
}

/** Mark read: the signed token in the push allows only that, with no session. */
async function markRead(readToken) {
  if (!readToken) return;
  try {
    await fetch("/api/push/read/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: readToken }),
    });
  } catch {
    // Offline: the notification stays unread, which is what it is.
  }
}
