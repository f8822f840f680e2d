// Herald's notification center: the bell, its panel, toasts, live in every tab (docs/browser.md).
//
// The page works without these files (the bell is a link to the center page). With them, the bell
// opens a panel that follows the pusher, through one socket per browser that its tabs share. Its
// parts, plain scripts that {% herald_scripts %} loads in this order, each add a factory to the one
// global, window.HeraldWidget; this last one makes and wires them, once per page:
//
//   model.js       what the tab knows: notifications by id, the unread count, every change idempotent
//   server.js      the JSON API: requests, the tabs' pages, marking read or unread, muting
//   offline.js     a socket that does not come up: say so, and why; poll meanwhile
//   connection.js  the socket, one per browser (a leader tab), and the catch-up on every connect
//   items.js       the markup of one notification, its level's words, its times
//   view.js        the bell, the panel, its tabs and lists
//   alerts.js      the live region, the toasts, desktop notifications
//
// User text is only ever set with textContent, never parsed as HTML.
(function () {
  "use strict";

  const parts = window.HeraldWidget;
  const root = document.getElementById("herald-root");
  const config = document.getElementById("herald-config");
  if (!root || !config || root.dataset.heraldReady) return;
  if (!parts || !parts.model || !parts.server || !parts.offline || !parts.connection || !parts.items || !parts.view || !parts.alerts) {
    // The bell stays a link. Most likely a template that overrides herald/scripts.html and loads herald.js only.
    console.warn("Herald: a part of the widget did not load; herald/scripts.html loads eight scripts in order.");
    return;
  }
  root.dataset.heraldReady = "true";

  // ---- i18n: Django's JavaScript catalog (herald:jsi18n); identity if it did not load ----------

  const catalog = window.django || {};
  const gettext = typeof catalog.gettext === "function" ? catalog.gettext : (text) => text;
  const ngettext =
    typeof catalog.ngettext === "function" ? catalog.ngettext : (one, many, count) => (count === 1 ? one : many);
  const interpolate =
    typeof catalog.interpolate === "function"
      ? catalog.interpolate
      : (format, values) => format.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
  const named = (format, values) => interpolate(format, values, true);
  const unreadLabel = (count) =>
    named(ngettext("%(count)s unread notification", "%(count)s unread notifications", count), { count: count });

  // ---- the parts ---------------------------------------------------------------------------------

  // What every part reads (the configuration is rendered by {% herald_scripts %}), and each part once
  // made: they call one another through it, at run time, as the one script they were called.
  const app = {
    root: root,
    cfg: config.dataset,
    gettext: gettext,
    ngettext: ngettext,
    named: named,
    unreadLabel: unreadLabel,
    isId: parts.model.isId,
    isPayload: parts.model.isPayload,
  };
  app.model = parts.model.create({
    pageSize: app.cfg.pageSize,
    hooks: {
      place: (tab, n) => app.view.place(tab, n),
      refill: (tab, n) => app.view.refill(tab, n),
      remove: (tab, id) => app.view.removeNode(tab, id),
      dropToast: (id) => app.alerts.dropToast(id),
      dropToasts: (upToId) => app.alerts.dropToasts(upToId),
      alertNew: (n) => app.alerts.alertNew(n),
    },
  });
  app.server = parts.server.create(app);
  app.items = parts.items.create(app);
  app.view = parts.view.create(app);
  app.alerts = parts.alerts.create(app);
  app.connection = parts.connection.create(app);
  app.connection.start();

  // ---- start: the count the server rendered, then the list from the JSON API ----------------------

  // The bell tag renders only the count (one COUNT per page); the list is fetched now, whether or not
  // the pusher answers, and fetched again on every connect.
  app.model.unreadCount = Number(app.view.badge.dataset.heraldCount) || 0;
  app.connection.sync();
  app.view.renderAll();
  app.items.refreshTimes();
  setInterval(app.items.refreshTimes, 30000);
})();
