/* Herald's service worker: shows the web pushes Herald sends while the site is closed (docs/channels.md, "Web push").
 *
 * Served by Herald's view at <prefix>sw.js and registered with that prefix as its scope: it controls no page of
 * the site and leaves any service worker the site has at "/" alone. It only handles push and notification clicks.
 * A push's data is JSON: {"title", "body", "url", "id", "tag", "level"} (herald_live/push/send.py, payload()).
 */
"use strict";

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/* Only a page of this site: a push names a path, and nothing else may be opened from a click. */
function sameOriginUrl(value) {
  try {
    const url = new URL(typeof value === "string" && value ? value : "/", self.location.origin);
    return url.origin === self.location.origin ? url.href : self.location.origin + "/";
  } catch (error) {
    return self.location.origin + "/";
  }
}

function text(value, fallback) {
  return typeof value === "string" && value ? value : fallback;
}

self.addEventListener("push", (event) => {
  let data = {};
  if (event.data) {
    try {
      data = event.data.json() || {};
    } catch (error) {
      data = { body: event.data.text() };
    }
  }
  const options = {
    body: text(data.body, ""),
    data: { url: sameOriginUrl(data.url), id: data.id },
  };
  // The same notification pushed twice (a retry, two deliveries) replaces itself instead of showing twice.
  if (typeof data.tag === "string" && data.tag) options.tag = data.tag;
  // Every push must show a notification: browsers revoke the permission of workers that do not.
  event.waitUntil(self.registration.showNotification(text(data.title, self.location.host), options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sameOriginUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((client) => client.url === url && "focus" in client);
      return open ? open.focus() : self.clients.openWindow(url);
    })
  );
});
