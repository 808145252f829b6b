// sw.js: the hub's service worker, served at /sw.js so its scope is the whole
// site. It shows what the hub pushes (delivery/webpush.py's payload: id, title,
// body, url, level, read_token) and, on a click, marks it read through the API
// and focuses a tab on its link or opens one. The tag is the notification's id,
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
  event.waitUntil(openNotification(event.notification.data || {}));
});

/** Mark read (the signed token in the push allows only that), then show the link. */
async function openNotification({ url, readToken }) {
  if (readToken) {
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
  const target = new URL(url || "/notifications/", self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === target && "focus" in client) return client.focus();
  }
  return self.clients.openWindow(target);
}
