// Herald's notification center: the bell, its panel, toasts, live in every tab (docs/browser.md).
//
// The page works without this file (the bell is a link to the center page). With it, the bell
// opens a panel that follows the pusher, through one socket per browser that its tabs share ("one
// connection per browser" below). Protocol (docs/wire.md): on every (re)connect, fetch the
// state from the JSON API while buffering live events, then apply the buffer. Every notification
// is keyed by id and every change is idempotent, so a reconnect never loses or doubles one.
// User text is only ever set with textContent, never parsed as HTML.
(function () {
  "use strict";

  const root = document.getElementById("herald-root");
  const config = document.getElementById("herald-config");
  if (!root || !config || root.dataset.heraldReady) return;
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

  // ---- configuration (rendered by {% herald_scripts %}) ------------------------------------------

  const cfg = config.dataset;
  const MAX_TOASTS = Math.max(1, Number(cfg.maxToasts) || 3);
  const PAGE_SIZE = Math.max(1, Number(cfg.pageSize) || 20);
  const MAX_LIMIT = 100; // the JSON API's cap
  const TOAST_MS = 8000;
  const SOCKET_EVENT = "herald";

  // ---- elements ----------------------------------------------------------------------------------

  const panel = document.getElementById("herald-panel");
  const badge = root.querySelector(".herald-badge");
  const tabCount = root.querySelector(".herald-tab-count");
  const stateText = root.querySelector(".herald-state-text");
  const readAllButton = root.querySelector(".herald-read-all");
  const errorEl = root.querySelector(".herald-error");
  const desktopButton = root.querySelector(".herald-desktop");
  const tablist = root.querySelector('[role="tablist"]');
  const toastsEl = document.getElementById("herald-toasts") || document.body.appendChild(document.createElement("div"));
  const announcer = document.getElementById("herald-announcer");
  const bell = enhanceBell(document.getElementById("herald-bell"));
  const baseTitle = document.title.replace(/^\(\d+\+?\) /, "");

  function makeTab(filter) {
    const tabpanel = root.querySelector('.herald-tabpanel[data-herald-filter="' + filter + '"]');
    return {
      filter: filter,
      button: root.querySelector('[role="tab"][data-herald-filter="' + filter + '"]'),
      panel: tabpanel,
      list: tabpanel.querySelector(".herald-list"),
      empty: tabpanel.querySelector(".herald-empty"),
      more: tabpanel.querySelector(".herald-more"),
      nodes: new Map(), // id -> <li>, what the tab shows
      loaded: false,
      loading: false,
      hasMore: false,
      cursor: null, // the oldest id fetched: the tab knows every one of its notifications from here up
      lastId: 0, // the newest id the server had at the tab's last fetch: newer ones come live
      generation: 0, // bumped by every reset: a "load more" answer from before it is dropped
      autoLoaded: undefined,
    };
  }
  const tabs = { unread: makeTab("unread"), all: makeTab("all") };
  let currentTab = "unread";

  // ---- the model ---------------------------------------------------------------------------------

  const store = new Map(); // id -> the latest payload seen
  let unreadCount = 0;
  let readUpTo = 0; // the highest "notifications.read" seen: a late "created" at or below it is read
  const readEarly = new Set(); // read before their "created" arrived (events travel by different tasks)
  const deletedIds = new Set();
  let syncing = false;
  let syncAgain = false;
  let needsSync = false;
  let buffered = [];
  let everLive = false;
  let signedOut = false;

  function isId(value) {
    return Number.isSafeInteger(value) && value > 0;
  }

  function isPayload(n) {
    return n && typeof n === "object" && isId(n.id) && typeof n.verb === "string";
  }

  // Whether a tab knows for sure if it holds this id: it fetched that far back, or the id is newer
  // than its fetch (those come live).
  function covers(tab, id) {
    return tab.loaded && (!tab.hasMore || tab.cursor === null || id >= tab.cursor || id > tab.lastId);
  }

  function created(n, live) {
    if (deletedIds.has(n.id)) return;
    if (n.unread && (readEarly.has(n.id) || n.id <= readUpTo)) n = Object.assign({}, n, { unread: false });
    store.set(n.id, n);
    let fresh = false;
    const unread = tabs.unread;
    // At or below the tab's fetch and absent from it: read (or gone) already.
    if (n.unread && !unread.nodes.has(n.id) && n.id > unread.lastId) {
      place(unread, n);
      unreadCount += 1;
      fresh = true;
    }
    const all = tabs.all;
    if (all.loaded && !all.nodes.has(n.id) && n.id > all.lastId) place(all, n);
    if (fresh && live) alertNew(n);
  }

  function read(id) {
    const known = store.get(id);
    if (known) store.set(id, Object.assign({}, known, { unread: false }));
    const unread = tabs.unread;
    if (unread.nodes.has(id)) {
      removeNode(unread, id);
      unreadCount -= 1;
    } else if (id > unread.lastId) {
      readEarly.add(id);
    } else if (!covers(unread, id)) {
      needsSync = true; // an unread one beyond what was fetched, or not: only the server knows
    }
    refill(tabs.all, id);
    dropToast(id);
  }

  function unreadAgain(n) {
    n = Object.assign({}, n, { unread: true });
    store.set(n.id, n);
    readEarly.delete(n.id);
    const unread = tabs.unread;
    if (unread.nodes.has(n.id)) {
      place(unread, n);
    } else if (covers(unread, n.id)) {
      place(unread, n);
      unreadCount += 1;
    } else {
      needsSync = true;
    }
    const all = tabs.all;
    if (all.nodes.has(n.id) || covers(all, n.id)) place(all, n);
  }

  function deleted(id) {
    store.delete(id);
    deletedIds.add(id);
    const unread = tabs.unread;
    if (unread.nodes.has(id)) {
      removeNode(unread, id);
      unreadCount -= 1;
    } else if (!covers(unread, id)) {
      needsSync = true;
    }
    if (tabs.all.nodes.has(id)) removeNode(tabs.all, id);
    dropToast(id);
  }

  function allRead(upToId) {
    readUpTo = Math.max(readUpTo, upToId);
    for (const [id, n] of store) if (id <= upToId && n.unread) store.set(id, Object.assign({}, n, { unread: false }));
    const unread = tabs.unread;
    let removed = 0;
    for (const id of [...unread.nodes.keys()]) {
      if (id <= upToId) {
        removeNode(unread, id);
        removed += 1;
      }
    }
    if (covers(unread, upToId + 1)) {
      // Every unread one above upToId is in the tab (fetched, or arrived live), and none below is left.
      unreadCount = unread.nodes.size;
      if (unread.cursor === null || unread.cursor <= upToId + 1) unread.hasMore = false;
    } else {
      unreadCount -= removed;
      needsSync = true;
    }
    for (const id of tabs.all.nodes.keys()) if (id <= upToId) refill(tabs.all, id);
    for (const t of [...toasts]) if (t.id <= upToId) dropToast(t.id);
  }

  function handle(envelope) {
    if (!envelope || typeof envelope !== "object" || !envelope.data || typeof envelope.data !== "object") return;
    const data = envelope.data;
    switch (envelope.type) {
      case "notification.created":
        if (isPayload(data)) created(data, true);
        break;
      case "notification.read":
        if (isId(data.id)) read(data.id);
        break;
      case "notification.unread":
        if (isPayload(data)) unreadAgain(data);
        break;
      case "notification.deleted":
        if (isId(data.id)) deleted(data.id);
        break;
      case "notifications.read":
        if (isId(data.up_to_id)) allRead(data.up_to_id);
        break;
      case "notifications.changed":
        needsSync = true;
        break;
      default:
        return;
    }
    renderAll();
  }

  // A tab becomes exactly what the server sent: nodes are reused by id, never doubled.
  function resetTab(tab, page) {
    tab.generation += 1;
    const keep = new Set(page.notifications.map((n) => n.id));
    for (const id of [...tab.nodes.keys()]) if (!keep.has(id)) removeNode(tab, id);
    for (const n of page.notifications) {
      store.set(n.id, n);
      place(tab, n);
    }
    tab.hasMore = Boolean(page.has_more);
    tab.cursor = page.notifications.length ? page.notifications[page.notifications.length - 1].id : null;
    tab.lastId = Number(page.last_id) || 0;
    tab.loaded = true;
  }

  function applyPage(tab, page) {
    for (const n of page.notifications) {
      if (deletedIds.has(n.id) || tab.nodes.has(n.id)) continue;
      store.set(n.id, n);
      place(tab, n);
    }
    tab.hasMore = Boolean(page.has_more);
    if (page.notifications.length) tab.cursor = page.notifications[page.notifications.length - 1].id;
  }

  // ---- the server --------------------------------------------------------------------------------

  function csrfToken() {
    if (cfg.csrfCookie) {
      for (const part of document.cookie.split(";")) {
        const [name, ...value] = part.trim().split("=");
        if (name === cfg.csrfCookie) return decodeURIComponent(value.join("="));
      }
    }
    return cfg.csrfToken || "";
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) {
      endSession();
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function post(url, { keepalive = false, json = undefined } = {}) {
    const headers = { Accept: "application/json" };
    headers[cfg.csrfHeader || "X-CSRFToken"] = csrfToken();
    const init = { method: "POST", credentials: "same-origin", headers: headers, keepalive };
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    const response = await fetch(url, init);
    if (response.status === 401) {
      endSession();
      throw new Error("signed out");
    }
    return response;
  }

  function pageUrl(filter, before, limit) {
    const url = new URL(cfg.notificationsUrl, window.location.href);
    url.searchParams.set("filter", filter);
    if (before) url.searchParams.set("before", String(before));
    url.searchParams.set("limit", String(limit));
    return url.toString();
  }

  // The configured URLs were reversed with id 0 (herald_scripts): the last "/0/" is the id's place.
  function idUrl(template, id) {
    const at = template.lastIndexOf("/0/");
    return template.slice(0, at) + "/" + Number(id) + "/" + template.slice(at + 3);
  }

  function limitFor(tab) {
    return Math.min(MAX_LIMIT, Math.max(PAGE_SIZE, tab.nodes.size));
  }

  // The catch-up: what the loaded tabs show now, while live events wait in a buffer. Calls during
  // a catch-up share it, and make it fetch once more when they may know something newer.
  let syncRun = null;

  function sync() {
    if (syncRun) {
      syncAgain = true;
      return syncRun;
    }
    syncRun = runSync();
    return syncRun;
  }

  async function runSync() {
    let ok = true;
    for (;;) {
      syncing = true;
      buffered = [];
      try {
        do {
          syncAgain = false;
          needsSync = false;
          const withAll = tabs.all.loaded;
          const [unreadPage, allPage] = await Promise.all([
            getJSON(pageUrl("unread", null, limitFor(tabs.unread))),
            withAll ? getJSON(pageUrl("all", null, limitFor(tabs.all))) : null,
          ]);
          resetTab(tabs.unread, unreadPage);
          if (allPage) resetTab(tabs.all, allPage);
          unreadCount = unreadPage.unread_count;
          for (const id of [...readEarly]) if (id <= tabs.unread.lastId) readEarly.delete(id);
          deletedIds.clear();
        } while (syncAgain);
      } catch (err) {
        ok = false;
      }
      syncing = false;
      const pending = buffered;
      buffered = [];
      pending.forEach(handle);
      renderAll();
      if (!ok || !(needsSync || syncAgain)) break;
    }
    syncRun = null;
    return ok;
  }

  function afterChange() {
    // An answer that lands during a catch-up may predate it: fetch once more.
    if (syncing) syncAgain = true;
    renderAll();
    if (needsSync) sync();
  }

  async function loadFirst(tab) {
    if (tab.loading) return;
    tab.loading = true;
    renderTab(tab);
    const generation = tab.generation;
    try {
      const page = await getJSON(pageUrl(tab.filter, null, PAGE_SIZE));
      if (generation === tab.generation) resetTab(tab, page);
    } catch (err) {
      showError(gettext("The notifications could not be loaded."));
    } finally {
      tab.loading = false;
      renderTab(tab);
    }
  }

  async function loadMore(tab) {
    if (tab.loading || !tab.hasMore) return;
    tab.loading = true;
    renderTab(tab);
    const generation = tab.generation;
    try {
      const page = await getJSON(pageUrl(tab.filter, tab.cursor, PAGE_SIZE));
      if (generation === tab.generation) applyPage(tab, page);
    } catch (err) {
      showError(gettext("The notifications could not be loaded."));
    } finally {
      tab.loading = false;
      renderTab(tab);
    }
  }

  async function markRead(id, options) {
    try {
      const response = await post(idUrl(cfg.readUrl, id), options);
      if (response.status === 404) deleted(id);
      else if (!response.ok) throw new Error("HTTP " + response.status);
      else read(id);
      afterChange();
      return true;
    } catch (err) {
      showError(gettext("The notification could not be marked as read."));
      return false;
    }
  }

  async function markUnread(id) {
    try {
      const response = await post(idUrl(cfg.unreadUrl, id));
      if (response.status === 404) deleted(id);
      else if (!response.ok) throw new Error("HTTP " + response.status);
      else {
        const payload = await response.json();
        if (isPayload(payload)) unreadAgain(payload);
      }
      afterChange();
    } catch (err) {
      showError(gettext("The notification could not be marked as unread."));
    }
  }

  // Mutes what the notification is about (its target), for ever: nothing more about it reaches this user
  // until it is unmuted on the preferences page.
  const mutedIds = new Set();

  async function muteTarget(id) {
    const n = store.get(id);
    try {
      const response = await post(cfg.mutesUrl, { json: { notification_id: id } });
      if (response.status === 404) deleted(id);
      else if (!response.ok) throw new Error("HTTP " + response.status);
      else {
        mutedIds.add(id);
        refill(tabs.unread, id);
        refill(tabs.all, id);
        const target = n && n.target && typeof n.target.text === "string" ? n.target.text : "";
        say(named(gettext("Muted: no more notifications about %(target)s."), { target: target }));
      }
      afterChange();
    } catch (err) {
      showError(gettext("It could not be muted."));
    }
  }

  async function markAllRead() {
    try {
      const response = await post(cfg.readAllUrl);
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      if (isId(body.up_to_id)) allRead(body.up_to_id);
      afterChange();
      say(gettext("All notifications are marked as read."));
    } catch (err) {
      showError(gettext("The notifications could not be marked as read."));
    }
  }

  // ---- rendering ---------------------------------------------------------------------------------

  const LEVELS = {
    success: gettext("Success"),
    info: gettext("Info"),
    warning: gettext("Warning"),
    error: gettext("Error"),
  };

  function levelClass(level) {
    return Object.prototype.hasOwnProperty.call(LEVELS, level) ? level : "other";
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function icon(kind) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 16 16");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    svg.setAttribute("fill", "currentColor");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    let shape;
    if (kind === "dot") {
      shape = document.createElementNS(ns, "circle");
      shape.setAttribute("cx", "8");
      shape.setAttribute("cy", "8");
      shape.setAttribute("r", "4");
    } else {
      shape = document.createElementNS(ns, "path");
      shape.setAttribute(
        "d",
        kind === "check"
          ? "M13.78 4.22a.75.75 0 0 1 0 1.06l-7.25 7.25a.75.75 0 0 1-1.06 0L2.22 9.28a.75.75 0 0 1 1.06-1.06L6 10.94l6.72-6.72a.75.75 0 0 1 1.06 0z"
          : "M3.72 3.72a.75.75 0 0 1 1.06 0L8 6.94l3.22-3.22a.75.75 0 1 1 1.06 1.06L9.06 8l3.22 3.22a.75.75 0 1 1-1.06 1.06L8 9.06l-3.22 3.22a.75.75 0 0 1-1.06-1.06L6.94 8 3.72 4.78a.75.75 0 0 1 0-1.06z"
      );
    }
    svg.append(shape);
    return svg;
  }

  // Only http(s) and this site's own paths: never javascript:, data: and the like.
  function safeUrl(url) {
    if (typeof url !== "string" || !url.trim()) return null;
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }

  const relative = "RelativeTimeFormat" in Intl ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
  const STEPS = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [7, "day"],
    [4.345, "week"],
    [12, "month"],
  ];

  function relativeTime(date) {
    if (!relative) return date.toLocaleString();
    let value = (date.getTime() - Date.now()) / 1000;
    if (Math.abs(value) < 45) return relative.format(0, "second");
    for (const [size, unit] of STEPS) {
      const rounded = Math.round(value);
      if (Math.abs(rounded) < size) return relative.format(rounded, unit);
      value /= size;
    }
    return relative.format(Math.round(value), "year");
  }

  function showTime(time) {
    const date = new Date(time.getAttribute("datetime"));
    if (isNaN(date.getTime())) return;
    time.textContent = relativeTime(date);
    time.title = fullDate.format(date);
  }

  function refreshTimes() {
    document.querySelectorAll(".herald-scope time[datetime]").forEach(showTime);
  }

  // The markup of an item (as herald/center.html renders one), from a payload.
  function fill(li, n) {
    const focused = li.contains(document.activeElement);
    li.className = "herald-item herald-level-" + levelClass(n.level) + (n.unread ? " herald-unread" : "");
    li.dataset.heraldId = String(n.id);
    const dot = el("span", "herald-item-dot");
    dot.setAttribute("aria-hidden", "true");
    const body = el("div", "herald-item-body");
    const text = el("p", "herald-item-text");
    text.append(el("span", "herald-actor", String(n.actor)), " ", el("span", "herald-verb", n.verb));
    if (n.target && typeof n.target.text === "string") {
      const url = safeUrl(n.target.url);
      const target = el(url ? "a" : "span", "herald-target", n.target.text);
      if (url) target.href = url;
      text.append(" ", target);
    }
    body.append(text);
    if (n.description) body.append(el("p", "herald-description", String(n.description)));
    const meta = el("p", "herald-meta");
    const time = el("time");
    time.setAttribute("datetime", String(n.timestamp));
    showTime(time);
    meta.append(el("span", "herald-level", LEVELS[n.level] || String(n.level)), " ", time);
    if (n.unread) meta.append(el("span", "herald-sr-only", " " + gettext("Unread")));
    if (n.target && cfg.mutesUrl) {
      const muted = mutedIds.has(n.id);
      const mute = el("button", "herald-mute", muted ? gettext("Muted") : gettext("Mute"));
      mute.type = "button";
      mute.disabled = muted;
      mute.title = gettext("No more notifications about this");
      meta.append(" ", mute);
    }
    body.append(meta);
    const toggle = el("button", "herald-toggle");
    toggle.type = "button";
    toggle.dataset.heraldAction = n.unread ? "read" : "unread";
    const label = n.unread ? gettext("Mark as read") : gettext("Mark as unread");
    toggle.setAttribute("aria-label", label);
    toggle.title = label;
    toggle.append(icon(n.unread ? "check" : "dot"));
    li.replaceChildren(dot, body, toggle);
    if (focused) toggle.focus();
  }

  function place(tab, n) {
    let li = tab.nodes.get(n.id);
    if (!li) {
      li = document.createElement("li");
      let before = null;
      for (const child of tab.list.children) {
        if (Number(child.dataset.heraldId) < n.id) {
          before = child;
          break;
        }
      }
      tab.list.insertBefore(li, before);
      tab.nodes.set(n.id, li);
    }
    fill(li, n);
    return li;
  }

  function refill(tab, id) {
    const li = tab.nodes.get(id);
    const n = store.get(id);
    if (li && n) fill(li, n);
  }

  function removeNode(tab, id) {
    const li = tab.nodes.get(id);
    if (!li) return;
    if (li.contains(document.activeElement)) {
      // Keyboard users keep their place: the next item's button, else the previous one's, else the tab.
      const next = li.nextElementSibling || li.previousElementSibling;
      const target = next ? next.querySelector(".herald-toggle") : tab.button;
      if (target) setTimeout(() => target.focus(), 0);
    }
    li.remove();
    tab.nodes.delete(id);
  }

  function renderTab(tab) {
    tab.empty.hidden = !tab.loaded || tab.loading || tab.nodes.size > 0 || tab.hasMore;
    tab.more.hidden = !(tab.hasMore || tab.loading);
    tab.more.disabled = tab.loading;
    tab.more.textContent = tab.loading ? gettext("Loading…") : gettext("Load more");
    tab.panel.setAttribute("aria-busy", tab.loading ? "true" : "false");
    // Everything shown was marked read while more wait on the server: fetch them.
    if (tab.loaded && !tab.loading && tab.hasMore && tab.nodes.size === 0 && !panel.hidden) {
      if (tab.autoLoaded !== tab.cursor) {
        tab.autoLoaded = tab.cursor; // once per position: a failing server is not asked in a loop
        setTimeout(() => loadMore(tab), 0);
      }
    }
  }

  function renderCount() {
    unreadCount = Math.max(0, unreadCount);
    const text = unreadCount > 99 ? "99+" : String(unreadCount);
    badge.textContent = text;
    badge.dataset.heraldCount = String(unreadCount);
    badge.hidden = unreadCount === 0;
    if (tabCount) tabCount.textContent = text;
    bell.setAttribute("aria-label", unreadLabel(unreadCount));
    readAllButton.disabled = unreadCount === 0;
    document.title = unreadCount > 0 ? "(" + text + ") " + baseTitle : baseTitle;
  }

  function renderAll() {
    renderCount();
    renderTab(tabs.unread);
    renderTab(tabs.all);
  }

  let errorTimer = null;
  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => {
      errorEl.hidden = true;
    }, 8000);
    say(message);
  }

  // ---- the one live region -----------------------------------------------------------------------

  let pendingNew = [];
  let announceTimer = null;

  function say(text) {
    if (!announcer) return;
    // Emptied first, so that the same words twice are announced twice.
    announcer.textContent = "";
    setTimeout(() => {
      announcer.textContent = text;
    }, 60);
  }

  function announceNew(n) {
    pendingNew.push(n);
    // A burst becomes one sentence, not twenty.
    if (announceTimer === null) announceTimer = setTimeout(flushAnnouncements, 800);
  }

  function flushAnnouncements() {
    announceTimer = null;
    const arrived = pendingNew;
    pendingNew = [];
    if (!arrived.length) return;
    const first =
      arrived.length === 1
        ? named(gettext("New notification from %(actor)s: %(verb)s."), { actor: arrived[0].actor, verb: arrived[0].verb })
        : named(ngettext("%(count)s new notification.", "%(count)s new notifications.", arrived.length), {
            count: arrived.length,
          });
    say(first + " " + unreadLabel(unreadCount) + ".");
  }

  // ---- alerts: a toast always, a desktop notification while the tab is hidden --------------------

  const toasts = []; // newest first: {id, el, timer, remaining, started, hovered}
  let collapsed = 0;
  let moreHovered = false;
  const moreButton = el("button", "herald-toast-more");
  moreButton.type = "button";
  moreButton.hidden = true;
  moreButton.addEventListener("click", () => {
    clearToasts();
    openPanel();
  });
  moreButton.addEventListener("pointerenter", () => {
    moreHovered = true;
    pauseAll();
  });
  moreButton.addEventListener("pointerleave", () => {
    moreHovered = false;
    resumeAll();
  });
  toastsEl.append(moreButton);

  // Read from the toasts themselves, not counted from events: a toast removed under the pointer or
  // with focus fires no pointerleave or focusout, and must not leave the others paused for ever.
  function paused() {
    return moreHovered || toasts.some((t) => t.hovered) || toastsEl.contains(document.activeElement);
  }

  function startTimer(t) {
    if (paused()) return;
    t.started = Date.now();
    t.timer = setTimeout(() => dropToast(t.id), t.remaining);
  }

  function pauseAll() {
    toastsEl.dataset.heraldPaused = "true";
    for (const t of toasts) {
      if (t.timer === null) continue;
      clearTimeout(t.timer);
      t.timer = null;
      t.remaining = Math.max(1000, t.remaining - (Date.now() - t.started));
    }
  }

  function resumeAll() {
    if (paused()) return;
    delete toastsEl.dataset.heraldPaused;
    for (const t of toasts) if (t.timer === null) startTimer(t);
  }

  function alertNew(n) {
    announceNew(n);
    desktopAlert(n);
    if (!panel.hidden) return; // the panel shows it already
    toast(n);
  }

  function toast(n) {
    const box = el("div", "herald-toast herald-level-" + levelClass(n.level));
    box.dataset.heraldId = String(n.id);
    const body = el("div", "herald-toast-body");
    const title = el("p", "herald-toast-title");
    title.append(el("span", "herald-actor", String(n.actor)), " ", el("span", "herald-level", LEVELS[n.level] || ""));
    const line = el("p", "herald-toast-text");
    line.append(el("span", "herald-verb", n.verb));
    if (n.target && typeof n.target.text === "string") line.append(" ", el("span", "herald-target", n.target.text));
    body.append(title, line);
    const close = el("button", "herald-toast-close");
    close.type = "button";
    close.setAttribute("aria-label", gettext("Dismiss"));
    close.title = gettext("Dismiss");
    close.append(icon("close"));
    const t = { id: n.id, el: box, timer: null, remaining: TOAST_MS, started: 0, hovered: false };
    close.addEventListener("click", () => dropToast(t.id));
    box.addEventListener("pointerenter", () => {
      t.hovered = true;
      pauseAll();
    });
    box.addEventListener("pointerleave", () => {
      t.hovered = false;
      resumeAll();
    });
    box.append(body, close);
    toastsEl.prepend(box);
    toasts.unshift(t);
    // Never more than MAX_TOASTS: the oldest ones fold into "+N more".
    while (toasts.length > MAX_TOASTS) {
      const oldest = toasts.pop();
      clearTimeout(oldest.timer);
      // Focus in the folded toast stays in the stack (on the newest one's button).
      if (oldest.el.contains(document.activeElement)) close.focus();
      oldest.el.remove();
      collapsed += 1;
    }
    if (paused()) pauseAll();
    startTimer(t);
    renderMore();
  }

  function dropToast(id) {
    const index = toasts.findIndex((t) => t.id === id);
    if (index < 0) return;
    const [t] = toasts.splice(index, 1);
    clearTimeout(t.timer);
    if (t.el.contains(document.activeElement)) {
      const next = toasts[index] || toasts[index - 1];
      (next ? next.el.querySelector(".herald-toast-close") : bell).focus();
    }
    t.el.remove();
    if (!toasts.length) collapsed = 0;
    renderMore();
    resumeAll();
  }

  function clearToasts() {
    for (const t of [...toasts]) dropToast(t.id);
    collapsed = 0;
    renderMore();
  }

  function renderMore() {
    if (collapsed === 0 && moreButton.contains(document.activeElement)) bell.focus();
    moreButton.hidden = collapsed === 0;
    moreHovered = moreHovered && !moreButton.hidden;
    // The visible words start the accessible name; the rest says what the button does.
    moreButton.replaceChildren(
      named(ngettext("+%(count)s more", "+%(count)s more", collapsed), { count: collapsed }),
      el("span", "herald-sr-only", " " + gettext("new notifications: open the panel"))
    );
  }

  toastsEl.addEventListener("focusin", pauseAll);
  // Focus has moved by the time this runs: paused() sees where it went.
  toastsEl.addEventListener("focusout", () => setTimeout(resumeAll, 0));

  // While toasts show, the page gets their height as room at its end: a control under the stack (the
  // last rows of a long list) can always be scrolled clear of it. A spacer, not a style on the host's body.
  const toastSpacer = document.createElement("div");
  toastSpacer.className = "herald-toast-spacer";
  toastSpacer.setAttribute("aria-hidden", "true");
  function reserveToastSpace() {
    const rect = toastsEl.getBoundingClientRect();
    const room = rect.height > 0 ? Math.ceil(window.innerHeight - rect.top) : 0;
    if (room > 0) {
      toastSpacer.style.height = room + "px";
      if (toastSpacer.parentNode !== document.body || document.body.lastElementChild !== toastSpacer) {
        document.body.append(toastSpacer);
      }
    } else if (toastSpacer.parentNode) {
      toastSpacer.remove();
    }
  }
  if (window.ResizeObserver) new ResizeObserver(reserveToastSpace).observe(toastsEl);
  window.addEventListener("resize", reserveToastSpace);

  function desktopAlert(n) {
    if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
    // The Notification API renders title and body as plain text.
    const alert = new Notification(named(gettext("%(actor)s · notification"), { actor: n.actor }), {
      body: n.verb,
      tag: "herald-" + n.id,
    });
    alert.onclick = () => {
      window.focus();
      alert.close();
    };
  }

  if (desktopButton && "Notification" in window && Notification.permission === "default") {
    desktopButton.hidden = false;
    desktopButton.addEventListener("click", async () => {
      await Notification.requestPermission();
      desktopButton.hidden = Notification.permission !== "default";
    });
  }

  // ---- the bell and the panel --------------------------------------------------------------------

  // The link (no JavaScript) becomes a button that opens the panel.
  function enhanceBell(link) {
    const button = document.createElement("button");
    button.type = "button";
    button.id = link.id;
    button.className = link.className;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", panel.id);
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-label", link.getAttribute("aria-label") || "");
    button.append(...link.childNodes);
    link.replaceWith(button);
    return button;
  }

  function placePanel() {
    // Phones: the panel spans the screen just below the bell (herald.css); CSS needs the bell's bottom.
    root.style.setProperty("--herald-top", Math.round(bell.getBoundingClientRect().bottom + 8) + "px");
    panel.classList.remove("herald-panel-start");
    const box = panel.getBoundingClientRect();
    if (box.left < 8) panel.classList.add("herald-panel-start"); // a bell near the left edge opens rightwards
  }

  function openPanel() {
    if (panel.hidden) {
      panel.hidden = false;
      bell.setAttribute("aria-expanded", "true");
      root.classList.add("herald-open");
      placePanel();
      clearToasts();
      refreshTimes();
      const tab = tabs[currentTab];
      if (!tab.loaded) loadFirst(tab);
      renderAll();
    }
    tabs[currentTab].button.focus();
  }

  function closePanel(returnFocus) {
    if (panel.hidden) return;
    panel.hidden = true;
    bell.setAttribute("aria-expanded", "false");
    root.classList.remove("herald-open");
    if (returnFocus) bell.focus();
  }

  function selectTab(filter, focus) {
    currentTab = filter;
    for (const tab of Object.values(tabs)) {
      const selected = tab.filter === filter;
      tab.button.setAttribute("aria-selected", selected ? "true" : "false");
      tab.button.tabIndex = selected ? 0 : -1;
      tab.panel.hidden = !selected;
    }
    const tab = tabs[filter];
    if (!tab.loaded) loadFirst(tab);
    if (focus) tab.button.focus();
    renderAll();
  }

  bell.addEventListener("click", () => {
    if (panel.hidden) openPanel();
    else closePanel(false);
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || panel.hidden) return;
    const active = document.activeElement;
    if (active && active !== document.body && !root.contains(active)) return;
    event.preventDefault();
    closePanel(true);
  });

  // A click elsewhere, or focus that leaves the widget, closes the panel.
  document.addEventListener("pointerdown", (event) => {
    if (!panel.hidden && !root.contains(event.target) && !toastsEl.contains(event.target)) closePanel(false);
  });
  root.addEventListener("focusout", (event) => {
    if (event.relatedTarget && !root.contains(event.relatedTarget) && !toastsEl.contains(event.relatedTarget)) {
      closePanel(false);
    }
  });

  tablist.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) selectTab(tab.dataset.heraldFilter, true);
  });
  tablist.addEventListener("keydown", (event) => {
    const buttons = [...tablist.querySelectorAll('[role="tab"]')];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = {
      ArrowRight: index + 1,
      ArrowLeft: index - 1,
      Home: 0,
      End: buttons.length - 1,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = buttons[(moves[event.key] + buttons.length) % buttons.length];
    selectTab(next.dataset.heraldFilter, true);
  });

  readAllButton.addEventListener("click", markAllRead);

  for (const tab of Object.values(tabs)) {
    tab.more.addEventListener("click", () => loadMore(tab));
    tab.list.addEventListener("click", (event) => {
      const toggle = event.target.closest(".herald-toggle");
      const item = event.target.closest("[data-herald-id]");
      if (!item) return;
      const id = Number(item.dataset.heraldId);
      if (event.target.closest(".herald-mute")) {
        muteTarget(id);
        return;
      }
      if (toggle) {
        if (toggle.dataset.heraldAction === "read") markRead(id);
        else markUnread(id);
        return;
      }
      const link = event.target.closest("a.herald-target");
      const n = store.get(id);
      if (!link || !n || !n.unread) return;
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
        markRead(id, { keepalive: true }); // opens elsewhere: this page stays
        return;
      }
      // Marked read, then followed; a slow server delays the visit by at most a moment.
      event.preventDefault();
      const href = link.href;
      Promise.race([markRead(id, { keepalive: true }), new Promise((resolve) => setTimeout(resolve, 1500))]).then(
        () => window.location.assign(href)
      );
    });
    tab.list.addEventListener("auxclick", (event) => {
      const link = event.target.closest("a.herald-target");
      const item = event.target.closest("[data-herald-id]");
      if (!link || !item || event.button !== 1) return;
      const n = store.get(Number(item.dataset.heraldId));
      if (n && n.unread) markRead(n.id, { keepalive: true });
    });
  }

  // ---- connection state --------------------------------------------------------------------------

  const STATES = {
    live: gettext("Live"),
    reconnecting: gettext("Reconnecting…"),
    connecting: gettext("Connecting…"),
    offline: gettext("Offline"),
    "signed-out": gettext("Signed out"),
  };
  let state = "connecting";

  function setState(next) {
    state = next;
    // "connecting" is the first attempt: the same state as reconnecting, said differently.
    root.dataset.heraldState = next === "connecting" ? "reconnecting" : next;
    stateText.textContent = STATES[next];
    if (leading) announce();
  }

  function endSession() {
    if (signedOut) return;
    signedOut = true;
    setState("signed-out"); // a leader tells the other tabs of its group first
    if (socket) socket.disconnect();
    leaveGroup();
    showError(gettext("Your session has ended. Log in again to see your notifications."));
  }

  // ---- one connection per browser (docs/browser.md) ------------------------------------------------
  //
  // The tabs of one browser share a session (its cookie), so one socket receives what each of them
  // needs. The tabs of one session and user form a group (the config's opaque tabGroup): the tab that
  // holds the Web Lock "herald-leader:<group>" (the leader) opens the socket, and relays its connection
  // and every envelope over the BroadcastChannel "herald:<group>"; the others (followers) open none.
  // When the leader goes, the browser hands its lock to another tab, which connects with a fresh token;
  // every tab catches up on each new connection, as on any reconnect, so nothing is lost, and every
  // change is idempotent by id, so nothing is doubled. Without Web Locks or BroadcastChannel (or
  // without a group), each tab has a socket of its own, as before: role "own".

  const SHARED =
    Boolean(cfg.tabGroup) &&
    typeof BroadcastChannel === "function" &&
    Boolean(navigator.locks) &&
    typeof navigator.locks.request === "function";
  const TAB_ID = Math.random().toString(36).slice(2) + Date.now().toString(36);
  let role = "own"; // "own", "leader" or "follower": data-herald-socket on #herald-root
  let leading = false;
  let channel = null;
  let lockRequest = null; // aborts the wait for the lock
  let resign = null; // releases the lock
  let links = 0;
  let socketLink = null; // the leader's: names its socket's current connection
  let leaderLink = null; // a follower's: the leader's connection, as last heard (null: not connected)
  let leaderState = "connecting";
  let caughtUp = null; // a follower's: the connection it last caught up on
  let catchingUp = null;

  function setRole(next) {
    role = next;
    root.dataset.heraldSocket = next;
  }

  function mayConnect() {
    return !signedOut && (role === "own" || leading);
  }

  // What the leader tells the group: its state, and which connection is up (each one means a catch-up).
  function announce() {
    if (!channel) return;
    channel.postMessage({ kind: "state", state: state, link: socket && socket.connected ? socketLink : null });
  }

  function joinGroup() {
    setRole("follower");
    if (!channel) {
      channel = new BroadcastChannel("herald:" + cfg.tabGroup);
      channel.onmessage = onGroupMessage;
    }
    const request = new AbortController();
    lockRequest = request;
    navigator.locks
      .request("herald-leader:" + cfg.tabGroup, { signal: request.signal }, () => {
        if (lockRequest === request) lockRequest = null;
        if (signedOut || !channel) return undefined; // released at once
        // Held until the page goes (the browser releases it then) or resign() is called.
        return new Promise((resolve) => {
          resign = resolve;
          lead();
        });
      })
      .catch(() => {
        // Aborted: the session ended, or the page left. Refused otherwise (Web Locks not allowed here):
        // this tab keeps a socket of its own rather than waiting for a leader that cannot come.
        if (!request.signal.aborted && !signedOut) {
          setRole("own");
          openSocket();
        }
      });
    channel.postMessage({ kind: "hello" }); // a leader answers with its state
  }

  function lead() {
    leading = true;
    setRole("leader");
    leaderLink = null;
    caughtUp = null;
    setState(everLive ? "reconnecting" : "connecting");
    if (socket) socket.connect();
    else openSocket();
  }

  // Leaves the group at once: the lock (and so the socket) goes to another tab now, not when this
  // page is finally destroyed, and a page kept in the back-forward cache neither leads nor waits.
  function leaveGroup() {
    if (lockRequest) {
      lockRequest.abort();
      lockRequest = null;
    }
    if (leading) {
      leading = false;
      if (channel) channel.postMessage({ kind: "state", state: state, link: null });
      if (socket) socket.disconnect();
      const release = resign;
      resign = null;
      if (release) release();
    }
    if (channel) {
      channel.close();
      channel = null;
    }
  }

  function onGroupMessage(event) {
    const message = event.data;
    if (signedOut || !message || typeof message !== "object") return;
    if (leading) {
      if (message.kind === "hello") announce();
      return;
    }
    if (message.kind === "envelope") {
      receive(message.envelope);
    } else if (message.kind === "state" && Object.prototype.hasOwnProperty.call(STATES, message.state)) {
      if (message.state === "signed-out") {
        endSession(); // the group's session ended: the leader's token request was refused
        return;
      }
      leaderState = message.state;
      leaderLink = typeof message.link === "string" ? message.link : null;
      if (leaderLink && leaderLink !== caughtUp && leaderLink !== catchingUp) catchUp(leaderLink);
      showFollowerState();
    }
  }

  // A follower is live once the leader is and it has caught up on the leader's current connection.
  function showFollowerState() {
    if (signedOut || leading) return;
    if (leaderState !== "live") setState(leaderState);
    else if (leaderLink && caughtUp === leaderLink) setState("live");
    else setState(everLive ? "reconnecting" : "connecting");
  }

  async function catchUp(link) {
    catchingUp = link;
    const ok = await sync();
    if (catchingUp === link) catchingUp = null;
    if (leading || link !== leaderLink) return; // a newer connection's catch-up is the one that counts
    if (ok) {
      caughtUp = link;
      everLive = true;
    } else if (!signedOut) {
      setTimeout(() => !leading && leaderLink === link && link !== caughtUp && catchUp(link), 3000);
    }
    showFollowerState();
  }

  window.addEventListener("pagehide", () => {
    if (role !== "own") leaveGroup();
  });
  window.addEventListener("pageshow", (event) => {
    // Back from the back-forward cache: join again, and catch up on what happened meanwhile.
    if (event.persisted && SHARED && !signedOut && !channel) {
      joinGroup();
      sync();
    }
  });

  // ---- the socket --------------------------------------------------------------------------------

  let socket = null;
  let retryDelay = 1000;

  // An envelope from the socket, or relayed by the leader: buffered while a catch-up runs.
  function receive(envelope) {
    if (syncing) buffered.push(envelope);
    else handle(envelope);
    if (needsSync && !syncing) sync();
  }

  function retryLater() {
    if (!mayConnect()) return;
    setState(everLive ? "reconnecting" : "connecting");
    setTimeout(() => {
      if (socket && !socket.connected && mayConnect()) socket.connect();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  async function onConnect() {
    retryDelay = 1000;
    if (await sync()) {
      everLive = true;
      if (socket.connected) setState("live");
    } else if (mayConnect() && socket.connected) {
      setTimeout(() => socket.connected && onConnect(), 3000);
    }
  }

  function openSocket() {
    socket = window.io(cfg.pusherUrl || undefined, {
      transports: ["websocket", "polling"],
      // Called before every connection attempt: each gets a fresh short-lived token.
      auth: (cb) => {
        getJSON(cfg.tokenUrl)
          .then((data) => cb({ token: data.token }))
          .catch(() => cb({ token: "" }));
      },
    });
    socket.on("connect", () => {
      if (!mayConnect()) {
        socket.disconnect(); // this tab stopped leading during the handshake
        return;
      }
      links += 1;
      socketLink = TAB_ID + ":" + links;
      if (leading) announce(); // the followers catch up on this connection, as this tab does
      onConnect();
    });
    socket.on(SOCKET_EVENT, (envelope) => {
      if (leading && channel) channel.postMessage({ kind: "envelope", envelope: envelope });
      receive(envelope);
    });
    // A refused handshake is not retried by socket.io itself: retry with a fresh token.
    socket.on("connect_error", () => {
      if (!socket.active) retryLater();
      else if (mayConnect()) setState(everLive ? "reconnecting" : "connecting");
    });
    socket.on("disconnect", (reason) => {
      socketLink = null;
      // The server closed us (logout, revocation): find out whether we may come back.
      if (reason === "io server disconnect") retryLater();
      else if (reason !== "io client disconnect" && !signedOut) setState("reconnecting");
      if (leading) announce();
    });
  }

  window.addEventListener("offline", () => {
    if (!signedOut) setState("offline");
  });
  window.addEventListener("online", () => {
    if (signedOut) return;
    if (role === "follower") {
      showFollowerState(); // the leader reconnects, and says so
    } else if (socket && !socket.connected && mayConnect()) {
      setState("reconnecting");
      socket.connect();
    }
  });

  if (typeof window.io !== "function") {
    setState("offline");
  } else if (SHARED) {
    setState("connecting");
    joinGroup();
  } else {
    setRole("own");
    setState("connecting");
    openSocket();
  }

  // ---- start: the count the server rendered, then the list from the JSON API ----------------------

  // The bell tag renders only the count (one COUNT per page); the list is fetched now, whether or not
  // the pusher answers, and fetched again on every connect.
  unreadCount = Number(badge.dataset.heraldCount) || 0;
  sync();
  renderAll();
  refreshTimes();
  setInterval(refreshTimes, 30000);
})();
